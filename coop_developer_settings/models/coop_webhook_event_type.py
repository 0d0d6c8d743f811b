# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class CoopWebhookEventType(models.Model):
    """The event catalogue: one record per event a webhook can receive.

    The records live in data/coop_webhook_event_type_data.xml; their codes are
    a public contract and never change. Adding an event is one record there,
    its payload in the source model's _webhook_data(), and one call to
    coop.webhook.event._record() where it happens.
    """

    _name = "coop.webhook.event.type"
    _description = "Webhook event type"
    _order = "sequence, id"

    code = fields.Char(required=True, readonly=True)
    name = fields.Char(string="Event", required=True, translate=True)
    description = fields.Text(translate=True)
    sequence = fields.Integer(default=10)
    res_model = fields.Char(
        string="Source model",
        required=True,
        help="Model whose records the event is about; it builds the payload "
        "(_webhook_data) and the test sample (_webhook_sample).",
    )
    subscribable = fields.Boolean(
        default=True, help="Users can create endpoints for it (not the test event)."
    )
    expire_when_stale = fields.Boolean(
        string="Expire stale deliveries",
        default=True,
        help="Deliveries not sent yet when the event is too late (e.g. an "
        "'opened' whose sale cycle has closed or was cancelled) are not sent: "
        "they end as expired, with the reason. Only for the events that can be "
        "late.",
    )
    can_be_stale = fields.Boolean(
        compute="_compute_source_rules",
        help="Events of this type can be too late to send (see Expire stale "
        "deliveries).",
    )
    has_lead_time = fields.Boolean(
        compute="_compute_source_rules",
        help="A reminder sent a lead time, chosen per endpoint, before a date.",
    )

    def _compute_source_rules(self):
        # The source model knows which of its events can be late, and which
        # are reminders.
        for event_type in self:
            source = self.env[event_type.res_model]
            event_type.can_be_stale = event_type.code in getattr(
                source, "_webhook_stale_event_types", ()
            )
            event_type.has_lead_time = event_type.code in getattr(
                source, "_webhook_lead_time_events", {}
            )

    _sql_constraints = [
        ("code_unique", "UNIQUE(code)", "An event type code is unique."),
    ]
