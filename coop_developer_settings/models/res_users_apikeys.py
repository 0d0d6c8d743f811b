# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models

from odoo.addons.base.models.res_users import INDEX_SIZE


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    last_used = fields.Datetime(
        string="Last used",
        compute="_compute_last_used",
        help="When the key last logged in (recorded at most once a minute).",
    )

    def _compute_last_used(self):
        usages = dict(
            self.env["coop.api.key.usage"]
            .sudo()
            .search([("key_id", "in", self.ids)])
            .mapped(lambda usage: (usage.key_id.id, usage.last_used))
        )
        for key in self:
            key.last_used = usages.get(key.id, False)

    def _check_credentials(self, *, scope, key):
        user_id = super()._check_credentials(scope=scope, key=key)
        if user_id:
            self.env["coop.api.key.usage"].sudo()._record_use(user_id, key[:INDEX_SIZE])
        return user_id
