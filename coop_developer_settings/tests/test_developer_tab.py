# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Developer settings tab: its server side (sections, create, the log),
the browser tours over it, and the user guide's pictures taken from it."""

import base64
import io
import os
from datetime import datetime, timedelta
from pathlib import Path
from unittest.mock import patch

from PIL import Image
from standardwebhooks.webhooks import Webhook

from odoo.exceptions import AccessError, ValidationError
from odoo.modules.module import get_module_path
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import ChromeBrowser

from .common import (
    GROUP_XMLID,
    DeliveryJobsMixin,
    WebhookCase,
    allow_local_receivers,
    new_developer,
)
from .receiver import Receiver

PICTURES = Path(get_module_path("coop_developer_settings")) / "static" / "description"
TOUR_PREFIX = "coop-tour: "
# Fixed dates: the same pictures at every run.
DAY = datetime(2026, 11, 27, 9, 0)
WRITE_PICTURES = bool(os.environ.get("COOP_WRITE_PICTURES"))
# The modules whose words the tab and the Preferences dialog show.
FRENCH_MODULES = ["base", "web", "mail", "coop_developer_settings"]


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


@tagged("post_install", "-at_install")
class TestDeveloperSettingsTour(HttpCase):
    def test_generate_a_key_from_the_tab(self):
        user = new_test_user(
            self.env, login="coop-dev-tour", groups=f"base.group_user,{GROUP_XMLID}"
        )
        self.start_tour("/odoo", "coop_developer_settings_api_key", login=user.login)
        key = user.api_key_ids
        self.assertEqual(key.name, "Brevo newsletter")
        self.assertFalse(key.scope)


@tagged("post_install", "-at_install")
class TestWebhookTour(DeliveryJobsMixin, HttpCase):
    def test_create_an_endpoint_and_send_a_test_event(self):
        """Paste the URL, Create, see the endpoint and its secret, Send test
        event, see the delivery in the log: all in the tab."""
        allow_local_receivers(self.env)
        params = self.env["ir.config_parameter"].sudo()
        admin = self.env.ref("base.user_admin")
        with Receiver() as receiver, self.jobs_running():
            params.set_param("coop_developer_settings.tour_receiver_url", receiver.url)
            self.start_tour("/odoo", "coop_developer_settings_webhook", login="admin")
        endpoint = admin.coop_webhook_endpoint_ids
        self.assertEqual(endpoint.url, receiver.url)
        self.assertEqual(endpoint.event_type, "sale_cycle.opened")
        [request] = receiver.requests
        payload = Webhook(endpoint._secret()).verify(
            request["body"], request["headers"]
        )
        self.assertEqual(payload["type"], "webhook.test")

    def test_administrators_see_the_tab_on_the_user_and_contact_forms(self):
        developer = new_developer(self.env, "coop-tab-admin-view", self.env.company)
        self.env["coop.webhook.endpoint"].with_user(developer).create(
            {
                "event_type_id": self.env.ref(
                    "coop_developer_settings.webhook_event_sale_cycle_closed"
                ).id,
                "url": "https://hooks.example.org/admin-view",
            }
        )
        for url in (
            f"/odoo/action-base.action_res_users/{developer.id}",
            f"/odoo/action-base.action_partner_form/{developer.partner_id.id}",
        ):
            self.start_tour(url, "coop_developer_settings_admin_tab", login="admin")


@tagged("post_install", "-at_install")
class TestDeveloperTabPictures(HttpCase):
    """The pictures of the user guide, taken from the running code: the tab
    in French at 1366x768 and 1920x1080 in the three states a user meets.
    The tour fails if a text of the tab overflows its box.

    The tests take the pictures and check them; they write them into the
    addon only for `make pictures` (COOP_WRITE_PICTURES), never during
    `make test`."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["ir.module.module"]._load_module_terms(
            FRENCH_MODULES, ["fr_FR"], overwrite=True
        )
        cls.user = new_test_user(
            cls.env,
            login="camille",
            name="Camille Martin",
            lang="fr_FR",
            tz="Europe/Paris",
            groups=f"base.group_user,{GROUP_XMLID}",
        )
        # Odoo draws a missing avatar in a colour of the creation time: one
        # of its own, for the same pictures at every run.
        avatar = io.BytesIO()
        Image.new("RGB", (64, 64), (113, 75, 103)).save(avatar, format="PNG")
        cls.user.image_1920 = base64.b64encode(avatar.getvalue())
        cls.Endpoint = cls.env["coop.webhook.endpoint"]

    def take_pictures(self, state, user=None):
        """Run the pictures tour as user (the French one by default); save
        what it asked for as developer_tab_<state>_<size>.png, or, without
        a state, only check that nothing overflows."""
        user = user or self.user
        taken, errors = [], []
        handle_console = ChromeBrowser._handle_console

        def tour_command(browser, command):
            verb, size, *clip = command.split()
            width, height = (int(side) for side in size.split("x"))
            if verb == "viewport":
                browser._websocket_send(
                    "Emulation.setDeviceMetricsOverride",
                    params={
                        "mobile": False,
                        "width": width,
                        "height": height,
                        "deviceScaleFactor": 1,
                    },
                )
                return

            def save(future):
                try:
                    if not state:
                        return
                    path = PICTURES / f"developer_tab_{state}_{size}.png"
                    picture = small_png(future.result()["data"])
                    # Rewritten only when the picture changed.
                    if WRITE_PICTURES and (
                        not path.exists() or path.read_bytes() != picture
                    ):
                        path.write_bytes(picture)
                    taken.append(path.name)
                except Exception as exc:  # reported by the test
                    errors.append(repr(exc))
                finally:
                    browser._websocket_send(
                        "Runtime.evaluate",
                        params={"expression": f"window.coopScreenshotTaken = {size!r}"},
                    )

            # Not waited for here: this runs in the browser's receiving thread.
            x, y, clip_width, clip_height = (int(side) for side in clip[0].split(","))
            browser._websocket_send(
                "Page.captureScreenshot",
                params={
                    "format": "png",
                    "clip": {
                        "x": x,
                        "y": y,
                        "width": clip_width,
                        "height": clip_height,
                        "scale": 1,
                    },
                },
                with_future=True,
            ).add_done_callback(save)

        def console(browser, type, args=None, stackTrace=None, **kw):  # noqa: A002
            value = args and args[0].get("value")
            if (
                type == "log"
                and isinstance(value, str)
                and value.startswith(TOUR_PREFIX)
            ):
                return tour_command(browser, value[len(TOUR_PREFIX) :])
            return handle_console(browser, type, args, stackTrace, **kw)

        with patch.object(ChromeBrowser, "_handle_console", console):
            self.start_tour(
                "/odoo", "coop_developer_settings_pictures", login=user.login
            )
        self.assertFalse(errors)
        self.assertEqual(
            taken,
            [
                f"developer_tab_{state}_{size}.png"
                for size in ("1366x768", "1920x1080")
                if state
            ],
        )

    def add_endpoint(self, code, url, statuses, user=None):
        """An endpoint of the user with one test delivery per status, a day
        apart, ending at DAY."""
        endpoint = self.Endpoint.with_user(user or self.user).create(
            {
                "event_type_id": self.env.ref(
                    f"coop_developer_settings.webhook_event_{code}"
                ).id,
                "url": url,
            }
        )
        endpoint.sudo().enabled_at = DAY - timedelta(days=len(statuses))
        Delivery = self.env["coop.webhook.delivery"].sudo()
        for days_before, status in zip(
            range(len(statuses) - 1, -1, -1), statuses, strict=True
        ):
            delivery = Delivery._enqueue_test_event(endpoint)
            delivery._cancel_jobs("picture")
            ok = 200 <= status <= 299
            delivery.write(
                {
                    "state": "done" if ok else "failed",
                    "attempt_count": 1,
                    "last_status": status,
                }
            )
            self.env["coop.webhook.attempt"].sudo().create(
                {
                    "delivery_id": delivery.id,
                    "attempted_at": DAY - timedelta(days=days_before),
                    "status_code": status,
                    "duration_ms": 180 if ok else 30012,
                    "response": "ok" if ok else "Service Unavailable",
                }
            )
        return endpoint

    def test_empty(self):
        self.take_pictures("empty")

    def add_api_key(self, name, user=None):
        """A key of the user, created two days before DAY, last used at DAY
        (the check covers the whole tab, the pictures show its webhooks)."""
        user = user or self.user
        self.env["res.users.apikeys"].with_user(user)._generate(
            None, name, DAY + timedelta(days=88)
        )
        key = user.api_key_ids
        self.env.cr.execute(
            "UPDATE res_users_apikeys SET create_date = %s WHERE id = %s",
            [DAY - timedelta(days=2), key.id],
        )
        self.env["coop.api.key.usage"].sudo().create(
            {"key_id": key.id, "last_used": DAY}
        )

    def test_one_endpoint_delivering(self):
        self.add_api_key("Newsletter Brevo")
        self.add_endpoint(
            "sale_cycle_opened",
            "https://api.brevo.example.org/v3/webhooks/coop-la-ruche-des-halles/"
            "sale-cycle-opened/7f3a9c2e-5b1d-4e8a-9f60-2c4b8d1e7a53",
            [200],
        )
        self.take_pictures("delivering")

    def add_failing_disabled_endpoint(self, user):
        endpoint = self.add_endpoint(
            "sale_cycle_closing_soon",
            "https://n8n.la-ruche-des-halles.example.fr/webhook/"
            "8b1e5f4c-2d7a-4c3e-b9a1-6f0d2e8c4b17/derniere-commande",
            [503, 503, 503, 503],
            user=user,
        )
        endpoint = endpoint.with_context(lang=user.lang)
        endpoint._disable(
            endpoint.env._("Every delivery failed for %(days)s days.", days=3)
        )

    def test_one_endpoint_failing_and_disabled(self):
        self.add_failing_disabled_endpoint(self.user)
        self.take_pictures("failing_disabled")

    def test_english_fits_too(self):
        """English words are not the French ones: the same check, no
        pictures."""
        alex = new_test_user(
            self.env,
            login="alex",
            name="Alex Martin",
            lang="en_US",
            groups=f"base.group_user,{GROUP_XMLID}",
        )
        self.add_api_key("Brevo newsletter, sale cycle announcements", user=alex)
        self.add_failing_disabled_endpoint(alex)
        self.take_pictures(None, user=alex)


def small_png(data):
    """The capture (the dialog) as a 64-colour PNG: small, sharp enough for
    text."""
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    out = io.BytesIO()
    image.convert("RGB").quantize(colors=64).save(out, format="PNG", optimize=True)
    return out.getvalue()
