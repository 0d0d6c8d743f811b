# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import models

from odoo.addons.base.models.res_users import parse_m2m

from .res_users import GROUP_XMLID


class ResGroups(models.Model):
    _inherit = "res.groups"

    def write(self, vals):
        """A group's members or implied groups changed: whoever lost the
        Developer settings access through it is treated as on the user form
        (keys revoked, webhooks disabled, a note on the contact)."""
        if "users" not in vals and "implied_ids" not in vals:
            return super().write(vals)
        with self.env["res.users"]._coop_watch_access() as users:
            result = super(ResGroups, self.with_env(users.env)).write(vals)
            group = self.env.ref(GROUP_XMLID)
            if "users" in vals and group in self:
                # Given on its own: its users list names them.
                named = self.env["res.users"].sudo().browse(parse_m2m(vals["users"]))
                (named & group.users).coop_developer_access_direct = True
            return result
