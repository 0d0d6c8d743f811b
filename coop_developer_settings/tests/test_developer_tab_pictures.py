# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The pictures of the user guide, taken from the running code: the tab in
French at 1366x768 and 1920x1080 in the three states a user meets. The tour
fails if a text of the tab overflows its box.

The tests take the pictures and check them; they write them into the addon
only for `make pictures` (COOP_WRITE_PICTURES), never during `make test`."""

import base64
import io
import os
from datetime import datetime, timedelta
from pathlib import Path
from unittest.mock import patch

from PIL import Image

from odoo.modules.module import get_module_path
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import ChromeBrowser, freeze_time
from odoo.tools import config

from ..models.coop_secret_vault import KEY_FILE_OPTION
from ..newsletter.campaign import COPY_PREFIX
from .common import GROUP_XMLID, SYNC_JOB, perform_jobs
from .fakes.brevo import FakeBrevo
from .fakes.mailchimp import FakeMailchimp
from .test_newsletter_campaigns import CAMPAIGN

PICTURES = Path(get_module_path("coop_developer_settings")) / "static" / "description"
TOUR_PREFIX = "coop-tour: "
# Fixed dates: the same pictures at every run.
DAY = datetime(2026, 11, 27, 9, 0)
WRITE_PICTURES = bool(os.environ.get("COOP_WRITE_PICTURES"))
KEY_FILE = "/var/lib/odoo/.local/share/Odoo/coop_developer_settings/secret.keys"
# The modules whose words the tab and the Preferences dialog show.
FRENCH_MODULES = ["base", "web", "mail", "coop_developer_settings"]
# Every pictures class has it (by inheritance): `make pictures` runs them.
PICTURES_TAG = "coop_pictures"
# What the shop names itself at its newsletter tool, in each guide: its
# templates, its sale cycles, and a campaign it made (Mailchimp) to copy.
CAMPAIGN_WORDS = {
    "fr": {
        "old_template": "Ouverture de la semaine (ancienne maquette)",
        "opening_template": "Ouverture de la vente : les produits de la semaine",
        "last_day_template": "Dernier jour pour commander",
        "week": "Semaine {number} : légumes d'hiver et fromages de la ferme",
        "flash_sale": "Vente flash : huîtres de Marennes pour les fêtes",
        # A campaign made in Mailchimp, that the newsletters copy.
        "last_week": "Lettre de la semaine 47 : légumes d'hiver et fromages",
    },
    "en": {
        "old_template": "Weekly opening (old layout)",
        "opening_template": "The sale is open: this week's products",
        "last_day_template": "Last day to order",
        "week": "Week {number}: winter vegetables and farm cheeses",
        "flash_sale": "Flash sale: Marennes oysters for the holidays",
        "last_week": "Week 47 letter: winter vegetables and cheeses",
    },
}


@tagged(PICTURES_TAG)
class PicturesCase(HttpCase):
    """A French and an English user with the access, and the pictures
    tours' runner."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        # The English pictures and checks: a database may have French only.
        cls.env["res.lang"]._activate_lang("en_US")
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
        cls.english = new_test_user(
            cls.env,
            login="alex",
            name="Alex Martin",
            lang="en_US",
            tz="Europe/Paris",
            groups=f"base.group_user,{GROUP_XMLID}",
        )
        # Odoo draws a missing avatar in a colour of the creation time: one
        # of its own, for the same pictures at every run.
        avatar = io.BytesIO()
        Image.new("RGB", (64, 64), (113, 75, 103)).save(avatar, format="PNG")
        cls.user.image_1920 = base64.b64encode(avatar.getvalue())
        cls.Endpoint = cls.env["coop.webhook.endpoint"]

    def take_pictures(
        self,
        state,
        user=None,
        tour="coop_developer_settings_pictures",
        prefix="developer_tab",
        parts=("",),
    ):
        """Run a pictures tour as user (the French one by default); save
        what it asked for as <prefix>_<state>[_<part>]_<size>.png, or,
        without a state, only check that nothing overflows."""
        user = user or self.user
        taken, errors = [], []
        handle_console = ChromeBrowser._handle_console

        def tour_command(browser, command):
            verb, size, *rest = command.split()
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
            clip, *part = rest
            # What the tour waits for: the size, and the part if any.
            token = " ".join([size, *part])

            def save(future):
                try:
                    if not state:
                        return
                    name = "_".join(filter(None, [prefix, state, *part, size]))
                    path = PICTURES / f"{name}.png"
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
                        params={
                            "expression": f"window.coopScreenshotTaken = {token!r}"
                        },
                    )

            # Not waited for here: this runs in the browser's receiving thread.
            x, y, clip_width, clip_height = (int(side) for side in clip.split(","))
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
            self.start_tour("/odoo", tour, login=user.login)
        self.assertFalse(errors)
        self.assertEqual(
            taken,
            [
                "_".join(filter(None, [prefix, state, part, size])) + ".png"
                for size in ("1366x768", "1920x1080")
                for part in parts
                if state
            ],
        )


@tagged("post_install", "-at_install")
class TestDeveloperTabPictures(PicturesCase):
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
        self.add_api_key(
            "Brevo newsletter, sale cycle announcements", user=self.english
        )
        self.add_failing_disabled_endpoint(self.english)
        self.take_pictures(None, user=self.english)


@tagged("post_install", "-at_install")
class TestNewsletterPictures(PicturesCase):
    """The Newsletter tools section in the three states a user meets, in
    French and English, connected to the fakes on 127.0.0.1."""

    def setUp(self):
        super().setUp()
        self.brevo = self.enterContext(FakeBrevo(import_delay=0))
        self.mailchimp = self.enterContext(FakeMailchimp())
        self.brevo.account_name = "La Ruche des Halles"
        self.mailchimp.account_name = "La Ruche des Halles"
        self.brevo.add_list("Acheteurs de la Ruche")
        self.mailchimp.add_list("Acheteurs de la Ruche")
        self.startPatcher(
            patch.dict(
                config.options,
                {
                    "coop_newsletter_brevo_url": self.brevo.url,
                    "coop_newsletter_mailchimp_url": self.mailchimp.url,
                },
            )
        )

    def connect(self, user, provider, **state):
        """A connection of the user with the fake's list, then the state
        the picture shows (written as the sync would)."""
        fake = self.brevo if provider == "brevo" else self.mailchimp
        Connection = self.env["coop.newsletter.connection"].with_user(user)
        connection = Connection.browse(
            Connection.coop_connect(provider, fake.key, user.company_id.id)["id"]
        )
        connection.action_set_list(connection.coop_lists()[0]["id"])
        connection.sudo().write(state)
        return connection

    def synced(self, **counts):
        return {
            "last_sync_at": DAY,
            "last_sync_subscribed": 1284,
            "last_sync_opted_out": 37,
            "last_sync_removed": 12,
            **counts,
        }

    def pictures_in_both_languages(self, state, make):
        for user in (self.user, self.english):
            lang = user.lang.split("_")[0]
            with self.subTest(lang=lang):
                make(user)
                self.take_pictures(
                    f"{state}_{lang}",
                    user=user,
                    tour="coop_developer_settings_newsletter_pictures",
                    prefix="newsletter",
                )

    def test_connected(self):
        # Opt-outs come back from Brevo (as when the server is public https).
        self.pictures_in_both_languages(
            "connected",
            lambda user: self.connect(
                user, "brevo", optout_webhook_id="7", **self.synced()
            ),
        )

    def test_syncing(self):
        self.pictures_in_both_languages(
            "syncing",
            lambda user: self.connect(
                user,
                "mailchimp",
                state="syncing",
                **self.synced(last_sync_rejected=2, last_sync_skipped_several=3),
            ),
        )

    def test_failing(self):
        def make(user):
            self.connect(user, "brevo", optout_webhook_id="7", **self.synced())
            self.connect(
                user,
                "mailchimp",
                state="failing",
                failing_since=DAY + timedelta(hours=2),
                last_error="Mailchimp: Your API key may be invalid, or you've "
                "attempted to access the wrong datacenter.",
                **self.synced(),
            )

        self.pictures_in_both_languages("failing", make)

    # "Newsletter at each sale": one test a language, so that a language's
    # cycles do not send the other one's newsletters.
    def test_campaigns_fr(self):
        self.campaign_pictures(self.user)

    def test_campaigns_en(self):
        self.campaign_pictures(self.english)

    def campaign_pictures(self, user):
        """Three weeks of a shop's newsletters at Brevo, every one made as
        the product makes them (no newsletter record written here): the
        user's settings, sale cycles opened and closed on a clock that
        moves, the jobs run when their time comes. Then the setting of an
        event open, and the newsletters made."""
        lang = user.lang.split("_")[0]
        words = CAMPAIGN_WORDS[lang]
        old = self.brevo.add_template(words["old_template"])
        opening = self.brevo.add_template(words["opening_template"])
        last_day = self.brevo.add_template(words["last_day_template"])
        sender = str(
            self.brevo.add_sender(
                "La Ruche des Halles", "infolettre@laruchedeshalles.fr"
            )
        )
        Cycle = self.env["coop.sale.cycle"]

        def cycle(name, opens, hours=56):
            return Cycle.create(
                {
                    "name": name,
                    "company_id": user.company_id.id,
                    "date_open": opens,
                    "date_close": opens + timedelta(hours=hours),
                    "shop_url": "https://laruchedeshalles.fr/boutique",
                }
            )

        with freeze_time(DAY - timedelta(days=15)) as clock:
            # Opt-outs come back from Brevo (as when the server is public https).
            connection = self.connect(user, "brevo", optout_webhook_id="7")
            connection.action_set_newsletter(
                "sale_cycle.opened", str(old), sender_id=sender
            )
            self.run_due_jobs()
            # Week 46: the template was deleted in Brevo meanwhile.
            del self.brevo.templates[old]
            clock.move_to(DAY - timedelta(days=14))
            week_46 = cycle(words["week"].format(number=46), DAY - timedelta(days=14))
            week_46.action_open()
            self.run_due_jobs()
            clock.move_to(DAY - timedelta(days=13))
            connection.action_set_newsletter(
                "sale_cycle.opened", str(opening), sender_id=sender
            )
            clock.move_to(DAY - timedelta(days=12))
            week_46.action_close()
            # Week 47: scheduled, then sent by Brevo at its time.
            clock.move_to(DAY - timedelta(days=7))
            week_47 = cycle(words["week"].format(number=47), DAY - timedelta(days=7))
            week_47.action_open()
            self.run_due_jobs()
            clock.move_to(DAY - timedelta(days=7, minutes=-40))
            self.run_due_jobs()
            clock.move_to(DAY - timedelta(days=5))
            week_47.action_close()
            # The flash sale sold out and closed before its newsletter left.
            flash_opens = DAY - timedelta(hours=17)
            clock.move_to(flash_opens)
            flash_sale = cycle(words["flash_sale"], flash_opens, hours=4)
            flash_sale.action_open()
            self.run_due_jobs()
            clock.move_to(flash_opens + timedelta(minutes=20))
            flash_sale.action_close()
            self.run_due_jobs()
            # Week 48 opens now; a reminder the day before it closes is new.
            clock.move_to(DAY)
            cycle(words["week"].format(number=48), DAY).action_open()
            self.run_due_jobs()
            connection.action_set_newsletter(
                "sale_cycle.closing_soon", str(last_day), sender_id=sender
            )
        self.assertCampaigns(connection, words)
        self.take_pictures(
            f"campaigns_{lang}",
            user=user,
            tour="coop_developer_settings_newsletter_campaign_pictures",
            prefix="newsletter",
            parts=("form", "list"),
        )

    # A Mailchimp connection whose newsletter is a copy of a campaign: one
    # test a language too, each with its own account's names.
    def test_campaign_copy_fr(self):
        self.copy_pictures(self.user)

    def test_campaign_copy_en(self):
        self.copy_pictures(self.english)

    def copy_pictures(self, user):
        """The "sale cycle opened" newsletter set, as the tab sets it (an id
        of its picker), to a copy of one of the list's campaigns made in
        Mailchimp: the setting open on the copy, with the account's
        templates and the list's campaigns to copy in its picker."""
        lang = user.lang.split("_")[0]
        words = CAMPAIGN_WORDS[lang]
        for template in ("opening_template", "last_day_template"):
            self.mailchimp.add_template(words[template])
        [list_id] = self.mailchimp.lists
        sources = {
            self.mailchimp.add_campaign(list_id, words[title], "<p></p>")
            for title in ("flash_sale", "last_week")
        }
        connection = self.connect(user, "mailchimp", **self.synced())
        choices = {choice["name"]: choice for choice in connection.coop_templates()}
        self.assertEqual(
            {choice["id"] for choice in choices.values() if choice["copy"]},
            {COPY_PREFIX + source for source in sources},
        )
        connection.action_set_newsletter(
            "sale_cycle.opened", choices[words["last_week"]]["id"]
        )
        self.take_pictures(
            f"campaign_copy_{lang}",
            user=user,
            tour="coop_developer_settings_newsletter_copy_pictures",
            prefix="newsletter",
        )

    def run_due_jobs(self):
        """The list's syncs, then the newsletters' steps, whose time came
        on the test's clock."""
        perform_jobs(self.env, method=SYNC_JOB, due=True)
        perform_jobs(self.env, method=CAMPAIGN, due=True)

    def assertCampaigns(self, connection, words):
        """What the pictures must show, as the tab reads it: a newsletter in
        each state, latest first, and the two events' settings."""
        overview = connection.coop_campaign_overview()
        week = words["week"].format
        self.assertEqual(
            [
                (c["cycle"], c["state"], c["can_cancel"], bool(c["report_url"]))
                for c in overview["campaigns"]
            ],
            [
                (week(number=48), "scheduled", True, True),
                (words["flash_sale"], "cancelled", False, True),
                (week(number=47), "sent", False, True),
                (week(number=46), "failed", False, False),
            ],
        )
        scheduled, cancelled, sent, failed = overview["campaigns"]
        self.assertEqual(
            (scheduled["scheduled_at"], sent["scheduled_at"]),
            ("2026-11-27 09:30:00", "2026-11-20 09:30:00"),
        )
        self.assertEqual(
            cancelled["reason"],
            connection.with_context(lang=connection.user_id.lang).env._(
                "The sale cycle closed before it was sent."
            ),
        )
        self.assertIn("Template ID does not exist", failed["error"])
        self.assertEqual(
            sorted(c["status"] for c in self.brevo.campaigns.values()),
            ["queued", "sent", "suspended"],
        )
        self.assertEqual(len(self.brevo.sends), 1)
        active = {e["event_type"]: e for e in overview["events"] if e["active"]}
        self.assertEqual(
            {event: e["template_name"] for event, e in active.items()},
            {
                "sale_cycle.opened": words["opening_template"],
                "sale_cycle.closing_soon": words["last_day_template"],
            },
        )


@tagged("post_install", "-at_install")
class TestSettingsPictures(PicturesCase):
    """The settings page's blocks of the addon (the JSON-2 switch, where the
    encryption key lives, the newsletter sync interval), in French and
    English, for an administrator."""

    def test_settings_blocks(self):
        admin = self.env.ref("base.user_admin")
        # Where the key is: a file named by the configuration, with a long
        # path (a field too narrow for it spills over), the same on every
        # server. Nothing is encrypted while the pictures are taken.
        self.startPatcher(patch.dict(config.options, {KEY_FILE_OPTION: KEY_FILE}))
        for lang in ("fr_FR", "en_US"):
            with self.subTest(lang=lang):
                admin.lang = lang
                self.take_pictures(
                    lang.split("_")[0],
                    user=admin,
                    tour="coop_developer_settings_settings_pictures",
                    prefix="settings",
                    parts=("api_keys", "secrets_newsletter"),
                )


def small_png(data):
    """The capture (the dialog) as a 64-colour PNG: small, sharp enough for
    text."""
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    out = io.BytesIO()
    image.convert("RGB").quantize(colors=64).save(out, format="PNG", optimize=True)
    return out.getvalue()
