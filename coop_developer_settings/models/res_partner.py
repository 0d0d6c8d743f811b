# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models

from .res_users import GROUP_XMLID


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "coop.buyer.source"]

    coop_developer_user_id = fields.Many2one(
        "res.users",
        string="User with Developer settings access",
        compute="_compute_coop_developer_user_id",
        compute_sudo=True,
        groups="base.group_system",
    )

    def _compute_coop_developer_user_id(self):
        group = self.env.ref(GROUP_XMLID)
        for partner in self:
            user = partner.user_ids.filtered(lambda user: group in user.groups_id)[:1]
            partner.coop_developer_user_id = user
