# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    coop_restrict_api_key_creation = fields.Boolean(
        string="Restrict API key creation to Developer settings access",
        config_parameter="coop_developer_settings.restrict_api_key_creation",
        help="Odoo's own New API Key wizard is refused to users without "
        "Developer settings access. Administrators are never blocked.",
    )
