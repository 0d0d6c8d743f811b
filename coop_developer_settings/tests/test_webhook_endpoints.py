# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from xmlrpc.client import Fault

from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import WebhookCase

GOOD_URL = "https://hooks.example.org/coop"


@tagged("post_install", "-at_install")
class TestWebhookEndpoints(WebhookCase):
    def test_create_edit_disable_enable_delete(self):
        endpoint = self.endpoint(GOOD_URL)
        self.assertEqual(
            (endpoint.state, endpoint.user_id), ("enabled", self.developer)
        )
        self.assertTrue(endpoint._secret().startswith("whsec_"))
        as_owner = endpoint.with_user(self.developer)
        as_owner.url = "https://hooks.example.org/other"
        as_owner.action_disable()
        self.assertEqual(endpoint.state, "disabled")
        as_owner.action_enable()
        self.assertEqual(endpoint.state, "enabled")
        as_owner.action_delete()
        self.assertFalse(endpoint.exists())

    def test_bad_input_is_refused_with_no_record(self):
        Endpoint = self.env["coop.webhook.endpoint"].with_user(self.developer)
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_allow_http", ""
        )
        count = Endpoint.search_count([])
        for url in (
            "not a url",
            "ftp://example.org/x",
            "http://example.org/x",
            "https://192.168.0.2/x",
            "https://user:pw@example.org/x",
            "https://example.org/" + "x" * 2050,
            "",
        ):
            with self.subTest(url=url[:40]), self.assertRaises(ValidationError):
                Endpoint.create({"event_type_id": self.opened_type.id, "url": url})
        for event_type in (
            self.env.ref("coop_developer_settings.webhook_event_test").id,
            999999,
        ):
            with self.assertRaises(ValidationError):
                Endpoint.create({"event_type_id": event_type, "url": GOOD_URL})
        self.assertEqual(Endpoint.search_count([]), count)
        endpoint = self.endpoint(GOOD_URL)
        with self.assertRaises(ValidationError):
            endpoint.with_user(self.developer).url = "https://10.1.2.3/x"
        self.assertEqual(endpoint.url, GOOD_URL)

    def test_at_most_ten_per_user_and_type(self):
        for index in range(10):
            self.endpoint(f"{GOOD_URL}/{index}")
        with self.assertRaises(ValidationError):
            self.endpoint(f"{GOOD_URL}/11")
        self.endpoint(GOOD_URL, self.closed_type)  # another type: fine

    def test_owners_only_and_no_field_holds_the_secret(self):
        endpoint = self.endpoint(GOOD_URL)
        other = new_test_user(
            self.env,
            login="coop-other-dev",
            groups="base.group_user,coop_developer_settings.group_developer_settings",
        )
        Endpoint = self.env["coop.webhook.endpoint"]
        self.assertFalse(Endpoint.with_user(other).search([("id", "=", endpoint.id)]))
        with self.assertRaises(AccessError):
            endpoint.with_user(other).read(["url"])
        # No field holds the secret: Secret shows it, after the password.
        with self.assertRaisesRegex(ValueError, "Invalid field"):
            endpoint.with_user(self.developer).read(["secret"])
        with self.assertRaises(AccessError):
            Endpoint.with_user(other).create(
                {
                    "event_type_id": self.opened_type.id,
                    "url": GOOD_URL,
                    "user_id": self.developer.id,
                }
            )
        plain = new_test_user(
            self.env, login="coop-no-access", groups="base.group_user"
        )
        with self.assertRaises(AccessError):
            Endpoint.with_user(plain).create(
                {"event_type_id": self.opened_type.id, "url": GOOD_URL}
            )

    def test_removing_the_access_disables_the_webhooks(self):
        endpoint = self.endpoint(GOOD_URL)
        self.developer.write(
            {
                "groups_id": [
                    Command.unlink(
                        self.env.ref(
                            "coop_developer_settings.group_developer_settings"
                        ).id
                    )
                ]
            }
        )
        self.assertEqual(endpoint.state, "disabled")


@tagged("post_install", "-at_install")
class TestWebhookEndpointsOverXmlrpc(HttpCase):
    def test_create_edit_disable_delete_over_xmlrpc(self):
        new_test_user(
            self.env,
            login="coop-rpc-dev",
            groups="base.group_user,coop_developer_settings.group_developer_settings",
        )
        db = self.env.cr.dbname
        uid = self.xmlrpc_common.authenticate(db, "coop-rpc-dev", "coop-rpc-dev", {})
        event_type = self.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_opened"
        )

        def call(method, *args, **kwargs):
            return self.xmlrpc_object.execute_kw(
                db,
                uid,
                "coop-rpc-dev",
                "coop.webhook.endpoint",
                method,
                list(args),
                kwargs,
            )

        endpoint_id = call("create", {"event_type_id": event_type.id, "url": GOOD_URL})
        call("write", [endpoint_id], {"url": GOOD_URL + "/v2"})
        call("action_disable", [endpoint_id])
        [row] = call("read", [endpoint_id], ["url", "state", "event_type"])
        self.assertEqual(
            (row["url"], row["state"], row["event_type"]),
            (GOOD_URL + "/v2", "disabled", "sale_cycle.opened"),
        )
        with (
            self.assertRaisesRegex(Fault, "Invalid field"),
            mute_logger("odoo.http"),
        ):
            call("read", [endpoint_id], ["secret"])
        with (
            self.assertRaisesRegex(Fault, "private, local or reserved"),
            mute_logger("odoo.http"),
        ):
            call(
                "create", {"event_type_id": event_type.id, "url": "https://127.0.0.1/x"}
            )
        with (
            self.assertRaisesRegex(Fault, "Unknown event type"),
            mute_logger("odoo.http"),
        ):
            call("create", {"event_type_id": 999999, "url": GOOD_URL})
        call("unlink", [endpoint_id])
        self.assertFalse(call("search", [("id", "=", endpoint_id)]))

        # Reminders: the lead time is chosen when subscribing.
        closing_soon = self.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_closing_soon"
        )
        reminder_id = call(
            "create",
            {"event_type_id": closing_soon.id, "url": GOOD_URL, "lead_time_hours": 6},
        )
        [row] = call("read", [reminder_id], ["event_type", "lead_time_hours"])
        self.assertEqual(
            (row["event_type"], row["lead_time_hours"]), ("sale_cycle.closing_soon", 6)
        )
        with (
            self.assertRaisesRegex(Fault, "lead time is from 1 to 168 hours"),
            mute_logger("odoo.http"),
        ):
            call(
                "create",
                {
                    "event_type_id": closing_soon.id,
                    "url": GOOD_URL,
                    "lead_time_hours": 0,
                },
            )
