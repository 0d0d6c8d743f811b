# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class CoopWebhookEventType(models.Model):
    """The event catalogue: one record per event a webhook can receive.

    The records live in data/coop_webhook_event_type_data.xml; their codes are
    a public contract and never change. Adding an event is one record there
    plus one call to coop.webhook.delivery._enqueue_event() where it happens.
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

    def action_add_endpoint(self):
        """Row button of the Developer settings tab: paste a URL, Create."""
        self.ensure_one()
        self.env.user._coop_check_developer_access()
        return {
            "type": "ir.actions.act_window",
            "res_model": "coop.webhook.endpoint",
            "name": self.env._("New webhook: %(event)s", event=self.name),
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_event_type_id": self.id},
        }

    _sql_constraints = [
        ("code_unique", "UNIQUE(code)", "An event type code is unique."),
    ]
