# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import timedelta

from odoo import api, fields, models


class CoopWebhookResendWizard(models.TransientModel):
    """Resend events since...: the date, and how many events it covers."""

    _name = "coop.webhook.resend.wizard"
    _description = "Resend webhook events since a date"

    endpoint_id = fields.Many2one(
        "coop.webhook.endpoint", required=True, readonly=True, ondelete="cascade"
    )
    since = fields.Datetime(
        required=True,
        default=lambda self: fields.Datetime.now() - timedelta(days=1),
        help="Every event of the webhook's type since then is sent again, with "
        "its original id: receivers that already have it ignore it. At most the "
        "retention period back (Settings › Developer settings).",
    )
    event_count = fields.Integer(
        string="Events to send", compute="_compute_event_count"
    )

    @api.depends("endpoint_id", "since")
    def _compute_event_count(self):
        for wizard in self:
            endpoint = wizard.endpoint_id
            wizard.event_count = (
                self.env["coop.webhook.event"]
                .sudo()
                .search_count(endpoint._events_since_domain(wizard.since))
                if endpoint and wizard.since
                else 0
            )

    def action_resend(self):
        self.ensure_one()
        return self.endpoint_id._resend_since(self.since)
