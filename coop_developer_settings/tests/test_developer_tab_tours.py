# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The tab driven in a browser: the tours of the API keys, the webhooks and
the newsletter tools."""

from unittest.mock import patch

from standardwebhooks.webhooks import Webhook

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import config

from .common import (
    GROUP_XMLID,
    DeliveryJobsMixin,
    allow_local_receivers,
    new_developer,
)
from .fakes.brevo import FakeBrevo
from .fakes.mailchimp import FakeMailchimp
from .receiver import Receiver


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
            self.jobs_running(method="_sync_job"),
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
            with self.jobs_running(method="_sync_job", min_age=3):
                self.start_tour(
                    "/odoo",
                    "coop_developer_settings_newsletter_retry",
                    login=user.login,
                )
            self.assertTrue(mailchimp.members[list_id])
        connection.invalidate_recordset()
        self.assertEqual(connection.state, "connected")
        self.assertFalse(connection.failing_since)


@tagged("post_install", "-at_install")
class TestWebhookTour(DeliveryJobsMixin, HttpCase):
    def test_create_an_endpoint_and_send_a_test_event(self):
        """Paste the URL, Create, see the endpoint and its secret, Send test
        event, see the delivery in the log: all in the tab."""
        allow_local_receivers(self.env)
        params = self.env["ir.config_parameter"].sudo()
        admin = self.env.ref("base.user_admin")
        # The tour reads the English words (a database may have French only).
        self.env["res.lang"]._activate_lang("en_US")
        admin.lang = "en_US"
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
