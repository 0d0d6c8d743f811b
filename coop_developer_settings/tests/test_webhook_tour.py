# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from standardwebhooks.webhooks import Webhook

from odoo.tests import HttpCase, tagged

from .common import DeliveryJobsMixin, allow_local_receivers, new_developer
from .receiver import Receiver


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
