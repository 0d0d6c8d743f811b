# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..models.res_config_settings import WEBHOOK_FIELDS
from ..webhook.settings import DEFAULTS, WebhookSettings
from .common import WebhookCase
from .receiver import Receiver


@tagged("post_install", "-at_install")
class TestWebhookSettings(WebhookCase):
    """One home for the settings: the page, the URL check and the job read
    the same values, with the same defaults."""

    def test_the_page_shows_the_defaults_and_refuses_what_would_not_parse(self):
        params = self.env["ir.config_parameter"]
        params.set_param("coop_developer_settings.webhook_total_timeout", False)
        page = self.env["res.config.settings"].create({})
        self.assertEqual(page.coop_webhook_total_timeout, DEFAULTS.total_timeout)
        self.assertEqual(page.coop_webhook_connect_timeout, DEFAULTS.connect_timeout)
        self.assertEqual(
            page.coop_webhook_retry_schedule,
            ",".join(map(str, DEFAULTS.retry_schedule)),
        )
        self.assertEqual(
            page.coop_webhook_manual_send_interval, DEFAULTS.manual_send_interval
        )
        for field_name, value in (
            ("coop_webhook_connect_timeout", 0),
            ("coop_webhook_total_timeout", 100000),
            ("coop_webhook_retry_schedule", "5,soon"),
            ("coop_allowed_private_networks", "10.0.0.0/33"),
            ("coop_webhook_retention_days", -3),
        ):
            with self.subTest(field_name), self.assertRaises(ValidationError):
                page.write({field_name: value})
        page.write({"coop_webhook_total_timeout": 7})
        page.execute()
        self.assertEqual(params._coop_webhook_settings().total_timeout, 7)

    def test_the_page_declares_each_setting_once_as_webhook_settings_does(self):
        """Every setting of WebhookSettings has its field on the page, with
        its parameter and default, and the page has no other webhook one."""
        page = self.env["res.config.settings"]
        for name, param in WebhookSettings.params().items():
            with self.subTest(name):
                field = page._fields[WEBHOOK_FIELDS[name]]
                self.assertEqual(field.config_parameter, param)
                default = getattr(DEFAULTS, name)
                if isinstance(default, tuple):
                    default = ",".join(map(str, default))
                self.assertEqual(
                    field.default(page) if field.default else False, default or False
                )
        # No other setting field of the webhooks, declared by hand.
        webhook_fields = {
            field.name: field.config_parameter
            for field in page._fields.values()
            if field.name.startswith("coop_webhook_")
            or field.name in WEBHOOK_FIELDS.values()
        }
        self.assertEqual(
            webhook_fields,
            {
                WEBHOOK_FIELDS[name]: param
                for name, param in WebhookSettings.params().items()
            },
        )

    def test_the_url_check_and_the_job_follow_the_page(self):
        page = self.env["res.config.settings"].create({})
        page.write({"coop_webhook_allow_http": False})
        page.execute()
        with self.assertRaises(ValidationError):
            self.endpoint("http://hooks.example.org/x")
        page.write(
            {"coop_webhook_allow_http": True, "coop_webhook_retry_schedule": "1,1"}
        )
        page.execute()
        with Receiver((500, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 3, "two retries, as configured")
        self.assertEqual(self.deliveries(endpoint).state, "failed")
