# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..webhook.settings import DEFAULTS, InvalidSetting, WebhookSettings
from .ir_config_parameter import JSON2_PARAM

# The settings page's field of each webhook setting.
WEBHOOK_FIELDS = {
    "allow_http": "coop_webhook_allow_http",
    "allowed_networks": "coop_allowed_private_networks",
    "retry_schedule": "coop_webhook_retry_schedule",
    "connect_timeout": "coop_webhook_connect_timeout",
    "total_timeout": "coop_webhook_total_timeout",
    "disable_after_days": "coop_webhook_disable_after_days",
    "retention_days": "coop_webhook_retention_days",
    "manual_send_interval": "coop_webhook_manual_send_interval",
    "delivery_concurrency": "coop_webhook_delivery_concurrency",
    "endpoint_concurrency": "coop_webhook_endpoint_concurrency",
}
PARAMS = WebhookSettings.params()
NEWSLETTER_CRON = "coop_developer_settings.ir_cron_sync_newsletter_connections"
# The newsletter sync's interval, in minutes: from 5 minutes to a day.
MIN_SYNC_MINUTES, MAX_SYNC_MINUTES = 5, 1440
# The cron's interval types, in minutes.
CRON_MINUTES = {"minutes": 1, "hours": 60, "days": 1440, "weeks": 10080}


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    coop_restrict_api_key_creation = fields.Boolean(
        string="Restrict API key creation to Developer settings access",
        config_parameter="coop_developer_settings.restrict_api_key_creation",
        help="Odoo's own New API Key wizard is refused to users without "
        "Developer settings access. Administrators are never blocked.",
    )
    coop_json2_api = fields.Boolean(
        string="Odoo 19's JSON-2 API (/json/2)",
        help="Odoo 19's external API (POST /json/2/...) with a full-account API "
        "key, for n8n's Odoo node and odoo-client-lib: the key user's rights, as "
        "over XML-RPC. Switched off, it answers 404.",
    )
    coop_webhook_allow_http = fields.Boolean(
        string="Allow http:// webhook URLs",
        config_parameter=PARAMS["allow_http"],
        help="Only https:// by default: deliveries carry shop data.",
    )
    coop_allowed_private_networks = fields.Char(
        string="Private networks webhooks may reach",
        config_parameter=PARAMS["allowed_networks"],
        help="CIDR ranges, comma separated (e.g. 10.1.0.0/16 for an intranet "
        "tool). Empty: only public addresses.",
    )
    coop_webhook_retry_schedule = fields.Char(
        string="Retry schedule (seconds)",
        config_parameter=PARAMS["retry_schedule"],
        default=",".join(str(delay) for delay in DEFAULTS.retry_schedule),
        help="Waits before each new attempt, comma separated (with 10 % jitter).",
    )
    coop_webhook_connect_timeout = fields.Integer(
        string="Connection timeout (seconds)",
        config_parameter=PARAMS["connect_timeout"],
        default=DEFAULTS.connect_timeout,
    )
    coop_webhook_total_timeout = fields.Integer(
        string="Answer timeout (seconds)",
        config_parameter=PARAMS["total_timeout"],
        default=DEFAULTS.total_timeout,
        help="Each attempt, from the name resolution to the end of the answer, "
        "ends within it. A delivery holds a worker that long at most.",
    )
    coop_webhook_disable_after_days = fields.Integer(
        string="Disable an endpoint failing for (days)",
        config_parameter=PARAMS["disable_after_days"],
        default=DEFAULTS.disable_after_days,
        help="Its owner is warned by email at half this time.",
    )
    coop_webhook_retention_days = fields.Integer(
        string="Keep events and deliveries for (days)",
        config_parameter=PARAMS["retention_days"],
        default=DEFAULTS.retention_days,
        help="Older ones are purged, but deliveries still on their way; Resend "
        "events since... goes back at most this far.",
    )
    coop_webhook_manual_send_interval = fields.Integer(
        string="Seconds between two manual sends to an endpoint",
        config_parameter=PARAMS["manual_send_interval"],
        default=DEFAULTS.manual_send_interval,
        help="Send test event, Redeliver and the resends: at most once per endpoint "
        "in this time.",
    )
    coop_webhook_delivery_concurrency = fields.Integer(
        string="Deliveries sent at once per job",
        config_parameter=PARAMS["delivery_concurrency"],
        default=DEFAULTS.delivery_concurrency,
        help="Threads of one delivery job (1 to 100).",
    )
    coop_webhook_endpoint_concurrency = fields.Integer(
        string="Deliveries sent at once to one endpoint",
        config_parameter=PARAMS["endpoint_concurrency"],
        default=DEFAULTS.endpoint_concurrency,
        help="Per job (1 to 100): a receiver gets at most this many requests at "
        "once from a job.",
    )
    # Filled by get_values: the settings form's first onchange gives False to
    # a computed field without dependencies, so a compute would show nothing.
    coop_secret_key_location = fields.Char(
        string="Encryption key of the secrets",
        readonly=True,
        help="Webhook signing secrets and newsletter tools' API keys are stored "
        "encrypted; the key is never in the database.",
    )

    coop_newsletter_sync_minutes = fields.Integer(
        string="Sync the newsletter tools every (minutes)",
        default=15,
        help="How often the buyer lists' changes are sent to Brevo and Mailchimp "
        "(from 5 minutes to a day); Sync now sends them at once.",
    )

    @api.model
    def get_values(self):
        values = super().get_values()
        cron = self.env.ref(NEWSLETTER_CRON, raise_if_not_found=False)
        if cron and cron.sudo().interval_type in CRON_MINUTES:
            cron = cron.sudo()
            values["coop_newsletter_sync_minutes"] = (
                cron.interval_number * CRON_MINUTES[cron.interval_type]
            )
        values["coop_json2_api"] = self.env[
            "ir.config_parameter"
        ]._coop_json2_api_enabled()
        values["coop_secret_key_location"] = self.env[
            "coop.secret.vault"
        ]._key_location_text()
        return values

    def set_values(self):
        minutes = self.coop_newsletter_sync_minutes
        if not MIN_SYNC_MINUTES <= minutes <= MAX_SYNC_MINUTES:
            raise ValidationError(
                self.env._(
                    "The newsletter tools are synced every %(min)s to %(max)s minutes.",
                    min=MIN_SYNC_MINUTES,
                    max=MAX_SYNC_MINUTES,
                )
            )
        result = super().set_values()
        cron = self.env.ref(NEWSLETTER_CRON, raise_if_not_found=False)
        if cron:
            cron.sudo().write({"interval_number": minutes, "interval_type": "minutes"})
        self.env["ir.config_parameter"].sudo().set_param(
            JSON2_PARAM, str(bool(self.coop_json2_api))
        )
        return result

    @api.constrains(*WEBHOOK_FIELDS.values())
    def _check_webhook_settings(self):
        """The values parse as the deliveries will read them."""
        for settings in self:
            values = {
                PARAMS[name]: settings[field_name]
                for name, field_name in WEBHOOK_FIELDS.items()
            }
            try:
                WebhookSettings.from_params(values.get, strict=True)
            except InvalidSetting as exc:
                field = self._fields[WEBHOOK_FIELDS[exc.name]]
                raise ValidationError(
                    self.env._(
                        "%(setting)s: %(value)s is not a valid value.",
                        setting=field._description_string(self.env),
                        value=exc.value,
                    )
                ) from None
