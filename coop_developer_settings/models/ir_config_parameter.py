# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, models

from ..webhook.settings import WebhookSettings


class IrConfigParameter(models.Model):
    _inherit = "ir.config_parameter"

    @api.model
    def _coop_webhook_settings(self):
        """The webhook settings (Settings › Developer settings), parsed."""
        return WebhookSettings.from_params(self.sudo().get_param)
