# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class CoopWebhookAttempt(models.Model):
    """One HTTP try of a delivery, as the receiver answered it."""

    _name = "coop.webhook.attempt"
    _description = "Webhook delivery attempt"
    _order = "attempted_at desc, id desc"
    _log_access = False

    delivery_id = fields.Many2one(
        "coop.webhook.delivery", required=True, index=True, ondelete="cascade"
    )
    attempted_at = fields.Datetime(required=True)
    status_code = fields.Integer(string="HTTP status")
    duration_ms = fields.Integer(string="Duration (ms)")
    response = fields.Text(help="The first 2 KB of the answer.")
    error = fields.Char()
