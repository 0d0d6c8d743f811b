# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Developer settings tab's server side: its sections, create and
delivery log, for whom. The browser tours are in test_developer_tab_tours,
the user guide's pictures in test_developer_tab_pictures."""

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import WebhookCase, new_developer
from .receiver import Receiver


@tagged("post_install", "-at_install")
class TestDeveloperTab(WebhookCase):
    """The server side of the tab: what it reads and creates, for whom.
    The tab's widget only shows what these answer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = new_developer(cls.env, "coop-tab-other", cls.company)
        cls.admin = cls.env.ref("base.user_admin")

    def tab(self, user, of=None):
        return (of or user).with_user(user).coop_developer_tab()

    def test_one_section_per_event_in_catalogue_order(self):
        tab = self.tab(self.developer)
        self.assertTrue(tab["is_self"])
        self.assertEqual(
            [section["code"] for section in tab["events"]],
            self.env["coop.webhook.event.type"]
            .search([("subscribable", "=", True)])
            .mapped("code"),
        )
        self.assertEqual(
            [section["code"] for section in tab["events"]][:2],
            ["sale_cycle.opening_soon", "sale_cycle.opened"],
        )
        self.assertNotIn("webhook.test", [s["code"] for s in tab["events"]])
        self.assertTrue(all(section["description"] for section in tab["events"]))

    def test_create_shows_the_secret_once_and_the_endpoint_in_its_section(self):
        Endpoint = self.env["coop.webhook.endpoint"].with_user(self.developer)
        created = Endpoint.coop_tab_create(
            self.opened_type.id, "https://hooks.example.org/a"
        )
        endpoint = Endpoint.browse(created["id"])
        self.assertEqual(created["secret"], endpoint._secret())
        self.assertTrue(created["secret"].startswith("whsec_"))
        [opened] = [
            s
            for s in self.tab(self.developer)["events"]
            if s["code"] == "sale_cycle.opened"
        ]
        [shown] = opened["endpoints"]
        self.assertEqual(shown["url"], "https://hooks.example.org/a")
        self.assertEqual(shown["state"], "enabled")
        self.assertNotIn("secret", shown)
        self.assertNotIn(created["secret"], str(self.tab(self.developer)))

    def test_create_refuses_bad_input_with_a_clear_message(self):
        Endpoint = self.env["coop.webhook.endpoint"].with_user(self.developer)
        with self.assertRaisesRegex(ValidationError, "https://"):
            Endpoint.coop_tab_create(self.opened_type.id, "ftp://hooks.example.org/a")
        with self.assertRaisesRegex(ValidationError, "Paste the URL"):
            Endpoint.coop_tab_create(self.opened_type.id, "")
        with self.assertRaises(AccessError):
            Endpoint.coop_tab_create(
                self.opened_type.id, "https://hooks.example.org/a", self.other.id
            )
        self.assertFalse(self.developer.coop_webhook_endpoint_ids)

    def test_another_users_tab_is_for_administrators_only(self):
        self.endpoint("https://hooks.example.org/other", user=self.other)
        with self.assertRaises(AccessError):
            self.tab(self.developer, of=self.other)
        tab = self.tab(self.admin, of=self.other)
        self.assertFalse(tab["is_self"])
        urls = [e["url"] for s in tab["events"] for e in s["endpoints"]]
        self.assertEqual(urls, ["https://hooks.example.org/other"])
        # An administrator creates for the user whose tab it is.
        created = (
            self.env["coop.webhook.endpoint"]
            .with_user(self.admin)
            .coop_tab_create(
                self.closed_type.id, "https://hooks.example.org/b", self.other.id
            )
        )
        self.assertEqual(
            self.env["coop.webhook.endpoint"].browse(created["id"]).user_id, self.other
        )

    def test_users_without_the_access_have_no_tab(self):
        plain = new_test_user(
            self.env, login="coop-tab-plain", groups="base.group_user"
        )
        with self.assertRaises(AccessError):
            self.tab(plain)

    def test_the_log_lists_the_owners_deliveries_with_their_last_attempt(self):
        with Receiver((503, {}, 0), (200, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            endpoint.with_user(self.developer).action_send_test_event()
            self.run_jobs()
        [row] = endpoint.with_user(self.developer).coop_tab_deliveries()
        self.assertEqual(row["state"], "done")
        self.assertEqual(row["status"], 200)
        self.assertEqual(row["excerpt"], "ok")
        self.assertGreaterEqual(row["duration_ms"], 0)
        [section] = [
            s
            for s in self.tab(self.developer)["events"]
            if s["code"] == "sale_cycle.opened"
        ]
        self.assertEqual(section["endpoints"][0]["last_attempt_status"], 200)
        with self.assertRaises(AccessError):
            endpoint.with_user(self.other).coop_tab_deliveries()
