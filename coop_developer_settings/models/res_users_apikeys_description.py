# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import models

RESTRICT_PARAM = "coop_developer_settings.restrict_api_key_creation"


class ResUsersApikeysDescription(models.TransientModel):
    _inherit = "res.users.apikeys.description"

    def check_access_make_key(self):
        """Odoo's own "New API Key" wizard follows the setting too."""
        result = super().check_access_make_key()
        if self._name == "res.users.apikeys.description" and (
            self.env["ir.config_parameter"].sudo().get_param(RESTRICT_PARAM)
        ):
            self.env.user._coop_check_developer_access()
        return result
