# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models
from odoo.exceptions import UserError

from odoo.addons.base.models.res_users import INDEX_SIZE

from .res_users import GROUP_XMLID

# What a key generated in the Developer settings tab can do. A full-account
# key is Odoo's global key (no scope): XML-RPC/JSON-RPC login and every route
# of this addon. A scoped key opens only this addon's routes of its scope:
# Odoo's RPC login and its bearer routes ask for the scope "rpc", which only
# global keys match (res.users.apikeys._check_credentials).
SCOPE_FULL = "full"
SCOPE_BUYERS = "coop.buyers.read"
SCOPE_WEBHOOKS = "coop.webhooks.manage"
# Keys one user with the access holds at once (expired ones aside), as
# endpoints are capped per event type: enough for every tool, not a flood.
MAX_API_KEYS_PER_USER = 20


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    last_used = fields.Datetime(
        string="Last used",
        compute="_compute_last_used",
        help="When the key last logged in (recorded at most once a minute).",
    )

    coop_access = fields.Char(
        string="Access",
        compute="_compute_coop_access",
        help="What the key can do: the full account (XML-RPC/JSON-RPC login and "
        "every API), or only one of the addon's APIs.",
    )

    def _compute_coop_access(self):
        labels = dict(
            self.env["coop.api.key.wizard"]
            ._fields["coop_scope"]
            ._description_selection(self.env)
        )
        for key in self:
            key.coop_access = labels.get(key.scope or SCOPE_FULL, key.scope)

    def _compute_last_used(self):
        usages = dict(
            self.env["coop.api.key.usage"]
            .sudo()
            .search([("key_id", "in", self.ids)])
            .mapped(lambda usage: (usage.key_id.id, usage.last_used))
        )
        for key in self:
            key.last_used = usages.get(key.id, False)

    def _generate(self, scope, name, expiration_date):
        """Every path that makes a key (the tab's wizard, Odoo's own) comes
        here: the cap is checked before the key is made."""
        if self.env.user.has_group(GROUP_XMLID):
            self._check_key_cap()
        return super()._generate(scope, name, expiration_date)

    def _check_key_cap(self):
        user = self.env.user
        # Concurrent generations for one user wait here and count each other.
        self.env.cr.execute(
            "SELECT id FROM res_users WHERE id = %s FOR NO KEY UPDATE", [user.id]
        )
        count = self.sudo().search_count(
            [
                ("user_id", "=", user.id),
                "|",
                ("expiration_date", "=", False),
                ("expiration_date", ">", fields.Datetime.now()),
            ]
        )
        if count >= MAX_API_KEYS_PER_USER:
            raise UserError(
                self.env._(
                    "You have %(count)s API keys, the most one user may hold: "
                    "revoke those no tool uses any more before generating "
                    "another.",
                    count=count,
                )
            )

    def _check_credentials(self, *, scope, key):
        # Odoo's logins (XML-RPC, JSON-RPC, its bearer routes) are accepted
        # once the key is: the use is recorded here.
        user_id = self._coop_key_user(scope, key)
        if user_id:
            self._coop_record_use(user_id, key)
        return user_id

    def _coop_key_user(self, scope, key):
        """The user of key if it opens scope, else None; its use is not
        recorded: the API checks more before it accepts a call."""
        return super()._check_credentials(scope=scope, key=key)

    def _coop_record_use(self, user_id, key):
        """Stamp the key's last use: a call made with it was accepted."""
        self.env["coop.api.key.usage"].sudo()._record_use(user_id, key[:INDEX_SIZE])
