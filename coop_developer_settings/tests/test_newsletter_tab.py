# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Newsletter tools section of the Developer settings tab: the same
gate as the tab, server-side; the key only as its last 4 characters."""

import json

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .test_newsletter_connections import NewsletterCase


@tagged("post_install", "-at_install")
class TestNewsletterTab(NewsletterCase):
    def tab(self, user, owner=None):
        return self.Connection.with_user(user).coop_tab((owner or user).id)

    def test_the_owner_sees_their_connections_without_the_key(self):
        brevo = self.connect()
        mailchimp = self.connect("mailchimp")
        tab = self.tab(self.developer)
        self.assertTrue(tab["is_self"])
        self.assertEqual(tab["shops"], [{"id": self.shop.id, "name": self.shop.name}])
        self.assertEqual(
            [
                (c["id"], c["provider_name"], c["account_name"])
                for c in tab["connections"]
            ],
            [
                (brevo.id, "Brevo", "La Coop du Coin"),
                (mailchimp.id, "Mailchimp", "La Coop du Coin"),
            ],
        )
        self.assertEqual(tab["connections"][0]["key_hint"], self.brevo.key[-4:])
        seen = json.dumps(tab, default=str)
        self.assertNotIn(self.brevo.key, seen)
        self.assertNotIn(self.mailchimp.key, seen)

    def test_no_user_sees_another_s_connections(self):
        self.connect()
        self.assertFalse(self.tab(self.other)["connections"])
        with self.assertRaisesRegex(AccessError, "Only administrators"):
            self.tab(self.other, owner=self.developer)

    def test_the_access_is_checked_on_the_server(self):
        nobody = new_test_user(self.env, login="coop-newsletter-nobody")
        with self.assertRaisesRegex(AccessError, "Developer settings access"):
            self.tab(nobody)
        for user in (self.developer, self.admin):
            for hostile in ("1; DROP TABLE res_users", 2**40, True, None, 0):
                with self.assertRaisesRegex(UserError, "No such user"):
                    self.Connection.with_user(user).coop_tab(hostile)

    def test_administrators_see_a_user_s_connections(self):
        connection = self.connect()
        tab = self.tab(self.admin, owner=self.developer)
        self.assertFalse(tab["is_self"])
        self.assertEqual([c["id"] for c in tab["connections"]], [connection.id])

    def test_the_shops_are_those_the_user_is_allowed_on(self):
        elsewhere = self.env["res.company"].create({"name": "Zebra shop"})
        self.developer.company_ids = [Command.link(elsewhere.id)]
        self.assertEqual(
            [shop["name"] for shop in self.tab(self.developer)["shops"]],
            sorted([self.shop.name, "Zebra shop"]),
        )

    def test_it_says_when_opt_outs_cannot_come_back(self):
        """A server that is not public https cannot receive the tool's
        opt-outs: the tab says what to ask for; once a webhook is
        registered, it says they come back."""
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("web.base.url", "http://localhost:8069")
        connection = self.connect()
        [values] = self.tab(self.developer)["connections"]
        # No list yet: nothing to say about opt-outs.
        self.assertFalse(values["optout_needs_public_address"])
        connection.action_set_list(self.brevo_list)
        [values] = self.tab(self.developer)["connections"]
        self.assertTrue(values["optout_needs_public_address"])
        self.assertFalse(values["optout_active"])
        connection.sudo().optout_webhook_id = "7"
        [values] = self.tab(self.developer)["connections"]
        self.assertFalse(values["optout_needs_public_address"])
        self.assertTrue(values["optout_active"])
        connection.sudo().optout_webhook_id = False  # none at the fake
        connection.action_disconnect()
        [values] = self.tab(self.developer)["connections"]
        self.assertEqual(values["state"], "disconnected")
        self.assertFalse(values["optout_needs_public_address"])
