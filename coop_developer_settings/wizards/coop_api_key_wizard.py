# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models

from odoo.addons.base.models.res_users import check_identity

from ..models.res_users_apikeys import SCOPE_BUYERS, SCOPE_FULL, SCOPE_WEBHOOKS


class CoopApiKeyWizard(models.TransientModel):
    """Generate an API key from the Developer settings tab.

    Odoo's own key wizard (name, duration within the limits of the user's
    groups), gated by Developer settings access, and followed by a "how to
    use it" page. The key is Odoo's native one: hashed, shown once.
    """

    _name = "coop.api.key.wizard"
    _inherit = "res.users.apikeys.description"
    _description = "Generate an API key"

    coop_scope = fields.Selection(
        [
            (SCOPE_FULL, "Full account"),
            (SCOPE_BUYERS, "Read the buyer list"),
            (SCOPE_WEBHOOKS, "Manage my webhooks"),
        ],
        string="Access",
        default=SCOPE_FULL,
        required=True,
        help="Full account: XML-RPC/JSON-RPC login with your rights, and every "
        "API of the Developer settings. The others open only their API "
        "(/coop/api/v1/buyers, or /coop/api/v1/webhooks): give a tool no more "
        "than it needs.",
    )

    def check_access_make_key(self):
        result = super().check_access_make_key()
        self.env.user._coop_check_developer_access()
        return result

    @check_identity
    def make_key(self):
        self.check_access("write")  # one's own wizard only (record rule)
        self.check_access_make_key()
        wizard = self.sudo()
        # No scope: a global key, the only kind XML-RPC/JSON-RPC login takes.
        access = wizard.coop_scope
        key = self.env["res.users.apikeys"]._generate(
            None if access == SCOPE_FULL else access, wizard.name, self.expiration_date
        )
        wizard.unlink()
        return {
            "type": "ir.actions.act_window",
            "res_model": "res.users.apikeys.show",
            "name": self.env._("Your new API key"),
            "views": [
                (
                    self.env.ref("coop_developer_settings.coop_api_key_show_view").id,
                    "form",
                )
            ],
            "target": "new",
            "context": {
                "default_key": key,
                "default_coop_database": self.env.cr.dbname,
                "default_coop_login": self.env.user.login,
                "default_coop_base_url": self.get_base_url(),
                "default_coop_scope": access,
            },
        }
