# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from unittest.mock import patch

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import config

from .common import DeliveryJobsMixin, new_developer
from .fakes.brevo import FakeBrevo
from .fakes.mailchimp import FakeMailchimp

GROUP_XMLID = "coop_developer_settings.group_developer_settings"


@tagged("post_install", "-at_install")
class TestDeveloperSettingsTour(DeliveryJobsMixin, HttpCase):
    def test_generate_a_key_from_the_tab(self):
        # The tour reads the English words (a database may have French only).
        self.env["res.lang"]._activate_lang("en_US")
        user = new_test_user(
            self.env,
            login="coop-dev-tour",
            lang="en_US",
            groups=f"base.group_user,{GROUP_XMLID}",
        )
        self.start_tour("/odoo", "coop_developer_settings_api_key", login=user.login)
        key = user.api_key_ids
        self.assertEqual(key.name, "Brevo newsletter")
        self.assertFalse(key.scope)

    def english_developer(self, login, shop):
        """A developer of the shop who reads English (the tours' words),
        also on a database with French only."""
        self.env["res.lang"]._activate_lang("en_US")
        user = new_developer(self.env, login, shop)
        user.write({"name": "Camille Martin", "lang": "en_US"})
        return user

    def test_connect_sync_and_disconnect_newsletter_tools(self):
        """A wrong key saves nothing; Brevo connected, its list chosen and
        synced; Mailchimp connected too; Brevo disconnected: from the tab,
        against the fakes on 127.0.0.1."""
        shop = self.env.ref("base.main_company")
        user = self.english_developer("coop-newsletter-tour", shop)
        with (
            FakeBrevo(import_delay=0) as brevo,
            FakeMailchimp() as mailchimp,
            # The fakes' addresses come from the server configuration only.
            patch.dict(
                config.options,
                {
                    "coop_newsletter_brevo_url": brevo.url,
                    "coop_newsletter_mailchimp_url": mailchimp.url,
                },
            ),
            self.jobs_running(method="_sync_job", after_login=True),
        ):
            brevo_list = brevo.add_list("Buyers")
            mailchimp.add_list("Buyers")
            self.start_tour(
                "/odoo", "coop_developer_settings_newsletter", login=user.login
            )
        connections = self.env["coop.newsletter.connection"].search(
            [("user_id", "=", user.id)]
        )
        self.assertEqual(connections.mapped("provider"), ["brevo", "mailchimp"])
        brevo_connection, mailchimp_connection = connections
        self.assertEqual(brevo_connection.state, "disconnected")
        self.assertEqual(brevo_connection.company_id, shop)
        self.assertEqual(mailchimp_connection.state, "connected")
        self.assertFalse(mailchimp_connection.list_id)
        # The wrong key was checked once, then nothing but the right one.
        self.assertEqual(len(brevo.calls("GET", "/v3/account")), 2)
        # The shop's buyers reached the list before the disconnect.
        self.assertTrue(brevo.members(brevo_list))
        self.assertGreater(brevo_connection.last_sync_subscribed, 0)

    def test_sync_now_shows_a_failing_connection_mended(self):
        """A failing connection stays shown failing until a sync succeeds:
        after Sync now, the tab reads it again and shows the outcome."""
        shop = self.env.ref("base.main_company")
        user = self.english_developer("coop-newsletter-retry", shop)
        with (
            FakeMailchimp() as mailchimp,
            patch.dict(
                config.options, {"coop_newsletter_mailchimp_url": mailchimp.url}
            ),
        ):
            list_id = mailchimp.add_list("Buyers")
            Connection = self.env["coop.newsletter.connection"].with_user(user)
            connection = Connection.browse(
                Connection.coop_connect("mailchimp", mailchimp.key, shop.id)["id"]
            )
            connection.action_set_list(list_id)
            connection.sudo().write(
                {
                    "state": "failing",
                    "failing_since": fields.Datetime.now(),
                    "last_error": "Mailchimp: Service Unavailable",
                }
            )
            # The sync runs once the tab has read the connection again
            # after the click: only its later readings can show it.
            with self.jobs_running(method="_sync_job", after_login=True, min_age=3):
                self.start_tour(
                    "/odoo",
                    "coop_developer_settings_newsletter_retry",
                    login=user.login,
                )
            self.assertTrue(mailchimp.members[list_id])
        connection.invalidate_recordset()
        self.assertEqual(connection.state, "connected")
        self.assertFalse(connection.failing_since)
