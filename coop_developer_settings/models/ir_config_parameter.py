# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, models
from odoo.tools import ormcache

from ..webhook.settings import WebhookSettings


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
