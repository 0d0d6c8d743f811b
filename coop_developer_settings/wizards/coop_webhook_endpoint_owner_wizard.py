# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models

from ..models.res_users import GROUP_XMLID


class CoopWebhookEndpointOwnerWizard(models.TransientModel):
    """Administrators hand a webhook to another user (e.g. one who leaves)."""

    _name = "coop.webhook.endpoint.owner.wizard"
    _description = "Change the owner of a webhook"

    endpoint_id = fields.Many2one(
        "coop.webhook.endpoint", required=True, ondelete="cascade"
    )
    user_id = fields.Many2one(
        "res.users",
        string="New owner",
        required=True,
        domain=lambda self: [
            ("groups_id", "in", self.env.ref(GROUP_XMLID).ids),
        ],
        help="A user with Developer settings access. The deliveries still on "
        "their way follow the webhook only for the companies this user is "
        "allowed on.",
    )

    def action_confirm(self):
        self.ensure_one()
        self.endpoint_id._change_owner(self.user_id)
        return {"type": "ir.actions.act_window_close"}
