# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.tools import create_index

from ..webhook import envelope, schemas


class CoopWebhookEvent(models.Model):
    """Something that happened, recorded once, and sent from here.

    An event is written when it happens, whether or not anyone subscribed
    to its type; each delivery references it, and sends the bytes built from
    it (``webhook-id`` = ``public_id``): the same on every retry and replay,
    for every endpoint.

    Most events are the shop's (``endpoint_id`` empty): every endpoint of
    their type allowed on their company gets them. Reminders
    (``sale_cycle.opening_soon`` / ``closing_soon``) and test events are one
    endpoint's: their moment, or their content, depends on it.

    The source model of an event type (``coop.webhook.event.type.res_model``)
    builds the data (``_webhook_data``) and says when an event about one of
    its records is too late to be sent (``_webhook_stale_reasons``).
    """

    _name = "coop.webhook.event"
    _description = "Webhook event"
    _order = "occurred_at desc, id desc"
    _rec_name = "public_id"

    public_id = fields.Char(
        string="Event ID",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: envelope.new_event_id(),
        help="The webhook-id header of every delivery of this event.",
    )
    event_type_id = fields.Many2one(
        "coop.webhook.event.type",
        string="Event",
        required=True,
        readonly=True,
        ondelete="restrict",
    )
    event_type = fields.Char(related="event_type_id.code", store=True, index=True)
    occurred_at = fields.Datetime(
        required=True, readonly=True, index=True, default=fields.Datetime.now
    )
    company_id = fields.Many2one(
        "res.company",
        string="Shop",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    data = fields.Json(readonly=True, help="The payload's data, as sent.")
    res_model = fields.Char(string="Source model", readonly=True)
    res_id = fields.Many2oneReference(
        string="Source record", model_field="res_model", readonly=True
    )
    endpoint_id = fields.Many2one(
        "coop.webhook.endpoint",
        string="Only for",
        readonly=True,
        index="btree_not_null",
        ondelete="cascade",
        help="Reminders and test events are one endpoint's: their moment or "
        "their content depends on it. Empty: every endpoint of the event's type "
        "allowed on its shop gets it.",
    )
    delivery_ids = fields.One2many(
        "coop.webhook.delivery", "event_id", string="Deliveries", readonly=True
    )
    body = fields.Text(compute="_compute_body", help="The exact bytes sent.")

    _sql_constraints = [
        ("public_id_unique", "UNIQUE(public_id)", "An event id is unique."),
    ]

    def init(self):
        # Stale deliveries are found from their source record.
        create_index(
            self.env.cr,
            "coop_webhook_event_res_model_res_id_index",
            self._table,
            ["res_model", "res_id"],
        )

    def _body(self):
        """The bytes every delivery of this event sends."""
        self.ensure_one()
        return envelope.body(
            self.public_id, self.event_type, self.occurred_at, self.data
        )

    @api.depends("public_id", "event_type", "occurred_at", "data")
    def _compute_body(self):
        for event in self:
            event.body = event._body().decode() if event.public_id else False

    @api.model
    def _record(self, event_type, occurrences):
        """Record that event_type happened now: one event per (record,
        endpoint or None) of occurrences. The data of a record is built once."""
        now = fields.Datetime.now()
        type_id = (
            self.env["coop.webhook.event.type"]
            .sudo()
            .search([("code", "=", event_type)], limit=1)
            .id
        )
        data_of = {}
        vals_list = []
        for record, endpoint in occurrences:
            if record not in data_of:
                data_of[record] = record._webhook_data(event_type, now)
            vals_list.append(
                {
                    "event_type_id": type_id,
                    "occurred_at": now,
                    "company_id": record.company_id.id,
                    "data": data_of[record],
                    "res_model": record._name,
                    "res_id": record.id,
                    "endpoint_id": endpoint.id if endpoint else False,
                }
            )
        return self.sudo().create(vals_list)

    @api.model
    def _record_tests(self, endpoints):
        """A webhook.test event for each endpoint, with a sample of the data
        of its type, sent to that endpoint only."""
        Event = self.sudo()
        test_type = self.env.ref("coop_developer_settings.webhook_event_test")
        events = Event.browse()
        for endpoint in endpoints:
            company, data = self.env[endpoint.event_type_id.res_model]._webhook_sample(
                endpoint.event_type, endpoint.user_id
            )
            events |= Event.create(
                {
                    "event_type_id": test_type.id,
                    "company_id": company.id,
                    "data": {**data, schemas.SAMPLE_OF: endpoint.event_type},
                    "endpoint_id": endpoint.id,
                }
            )
        return events

    def _deliver(self):
        """Queue the deliveries of these new events: an endpoint's event to
        that endpoint, the shop's to every endpoint that may receive it."""
        Endpoint = self.env["coop.webhook.endpoint"].sudo()
        own = self.filtered("endpoint_id")
        pairs = [(event, event.endpoint_id) for event in own]
        for (company, event_type), events in (
            (self - own)
            .grouped(lambda event: (event.company_id, event.event_type))
            .items()
        ):
            receivers = Endpoint._recipients(company, event_type)
            pairs += [(event, endpoint) for event in events for endpoint in receivers]
        return self.env["coop.webhook.delivery"]._queue(pairs)

    def _stale_reasons(self):
        """{event: reason} for those of these events that are too late to
        be sent: their type expires stale events (an administrator's switch)
        and their source record says so (e.g. the sale cycle closed)."""
        reasons = {}
        expiring = self.filtered(
            lambda event: event.res_model
            and event.res_id
            and event.event_type_id.expire_when_stale
        )
        for (res_model, event_type), events in expiring.grouped(
            lambda event: (event.res_model, event.event_type)
        ).items():
            by_record = (
                self.env[res_model]
                .sudo()
                .browse(set(events.mapped("res_id")))
                .exists()
                ._webhook_stale_reasons(event_type)
            )
            for event in events:
                if event.res_id in by_record:
                    reasons[event] = by_record[event.res_id]
        return reasons
