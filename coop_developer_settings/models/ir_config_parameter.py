# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, models
from odoo.tools import ormcache

from ..webhook.settings import WebhookSettings

# "False" when an administrator switched Odoo 19's JSON-2 API off; on otherwise.
JSON2_PARAM = "coop_developer_settings.json2_api"


class IrConfigParameter(models.Model):
    _inherit = "ir.config_parameter"

    @api.model
    @ormcache()
    def _coop_webhook_settings(self):
        """The webhook settings (Settings › Developer settings), parsed.

        Cached like get_param (any parameter change clears the cache); the
        settings object is immutable.
        """
        return WebhookSettings.from_params(self.sudo().get_param)

    @api.model
    def _coop_json2_api_enabled(self):
        """Odoo 19's JSON-2 API (/json/2): on unless switched off."""
        return self.sudo().get_param(JSON2_PARAM) != "False"
