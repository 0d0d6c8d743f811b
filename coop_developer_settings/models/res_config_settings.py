# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..webhook.settings import (
    DEFAULTS,
    PARAM_PREFIX,
    InvalidSetting,
    WebhookSettings,
)
from .ir_config_parameter import JSON2_PARAM
from .res_users_apikeys_description import RESTRICT_PARAM

PARAMS = WebhookSettings.params()
# The settings page's field of each webhook setting: coop_ and its parameter.
WEBHOOK_FIELDS = {
    name: "coop_" + param.removeprefix(PARAM_PREFIX) for name, param in PARAMS.items()
}
NEWSLETTER_CRON = "coop_developer_settings.ir_cron_sync_newsletter_connections"
# The newsletter sync's interval, in minutes: from 5 minutes to a day.
MIN_SYNC_MINUTES, MAX_SYNC_MINUTES = 5, 1440
# The cron's interval types, in minutes.
CRON_MINUTES = {"minutes": 1, "hours": 60, "days": 1440, "weeks": 10080}


def webhook_setting(field_type, name, **attributes):
    """The settings page's field of the webhook setting name: its parameter
    and its default are WebhookSettings' (webhook/settings.py)."""
    default = getattr(DEFAULTS, name)
    if isinstance(default, tuple):
        default = ",".join(str(value) for value in default)
    if default:
        attributes["default"] = default
    return field_type(config_parameter=PARAMS[name], **attributes)


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    coop_restrict_api_key_creation = fields.Boolean(
        string="Restrict API key creation to Developer settings access",
        config_parameter=RESTRICT_PARAM,
        help="Odoo's own New API Key wizard is refused to users without "
        "Developer settings access. Administrators are never blocked.",
    )
    coop_json2_api = fields.Boolean(
        string="Odoo 19's JSON-2 API (/json/2)",
        help="Odoo 19's external API (POST /json/2/...) with a full-account API "
        "key, for n8n's Odoo node and odoo-client-lib: the key user's rights, as "
        "over XML-RPC. Switched off, it answers 404.",
    )
    coop_webhook_allow_http = webhook_setting(
        fields.Boolean,
        "allow_http",
        string="Allow http:// webhook URLs",
        help="Only https:// by default: deliveries carry shop data.",
    )
    coop_allowed_private_networks = webhook_setting(
        fields.Char,
        "allowed_networks",
        string="Private networks webhooks may reach",
        help="CIDR ranges, comma separated (e.g. 10.1.0.0/16 for an intranet "
        "tool). Empty: only public addresses.",
    )
    coop_webhook_retry_schedule = webhook_setting(
        fields.Char,
        "retry_schedule",
        string="Retry schedule (seconds)",
        help="Waits before each new attempt, comma separated (with 10 % jitter).",
    )
    coop_webhook_connect_timeout = webhook_setting(
        fields.Integer,
        "connect_timeout",
        string="Connection timeout (seconds)",
    )
    coop_webhook_total_timeout = webhook_setting(
        fields.Integer,
        "total_timeout",
        string="Answer timeout (seconds)",
        help="Each attempt, from the name resolution to the end of the answer, "
        "ends within it. A delivery holds a worker that long at most.",
    )
    coop_webhook_disable_after_days = webhook_setting(
        fields.Integer,
        "disable_after_days",
        string="Disable an endpoint failing for (days)",
        help="Its owner is warned by email at half this time.",
    )
    coop_webhook_retention_days = webhook_setting(
        fields.Integer,
        "retention_days",
        string="Keep events and deliveries for (days)",
        help="Older ones are purged, but deliveries still on their way; Resend "
        "events since... goes back at most this far.",
    )
    coop_webhook_manual_send_interval = webhook_setting(
        fields.Integer,
        "manual_send_interval",
        string="Seconds between two manual sends to an endpoint",
        help="Send test event, Redeliver and the resends: at most once per endpoint "
        "in this time.",
    )
    coop_webhook_delivery_concurrency = webhook_setting(
        fields.Integer,
        "delivery_concurrency",
        string="Deliveries sent at once per job",
        help="Threads of one delivery job (1 to 100).",
    )
    coop_webhook_endpoint_concurrency = webhook_setting(
        fields.Integer,
        "endpoint_concurrency",
        string="Deliveries sent at once to one endpoint",
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
