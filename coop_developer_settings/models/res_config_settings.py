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
    coop_webhook_allow_http = fields.Boolean(
        string="Allow http:// webhook URLs",
        config_parameter="coop_developer_settings.webhook_allow_http",
        help="Only https:// by default: deliveries carry shop data.",
    )
    coop_allowed_private_networks = fields.Char(
        string="Private networks webhooks may reach",
        config_parameter="coop_developer_settings.allowed_private_networks",
        help="CIDR ranges, comma separated (e.g. 10.1.0.0/16 for an intranet "
        "tool). Empty: only public addresses.",
    )
    coop_webhook_retry_schedule = fields.Char(
        string="Retry schedule (seconds)",
        config_parameter="coop_developer_settings.webhook_retry_schedule",
        help="Waits before each new attempt, comma separated. Empty: "
        "5, 300, 1800, 7200, 18000, 36000, 36000 (with 10 % jitter).",
    )
    coop_webhook_connect_timeout = fields.Integer(
        string="Connection timeout (seconds)",
        config_parameter="coop_developer_settings.webhook_connect_timeout",
        default=5,
    )
    coop_webhook_total_timeout = fields.Integer(
        string="Answer timeout (seconds)",
        config_parameter="coop_developer_settings.webhook_total_timeout",
        default=15,
    )
    coop_webhook_disable_after_days = fields.Integer(
        string="Disable an endpoint failing for (days)",
        config_parameter="coop_developer_settings.webhook_disable_after_days",
        default=5,
    )
    coop_webhook_retention_days = fields.Integer(
        string="Keep successful deliveries for (days)",
        config_parameter="coop_developer_settings.webhook_retention_days",
        default=30,
    )
