# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Opt-outs back from the newsletter tools: the webhook registered at the
Brevo and Mailchimp fakes on 127.0.0.1 when the list is chosen, posted to
the running server's route, the address blacklisted in Odoo and never
subscribed again; anything else refused with nothing written."""

import hashlib
import json
import logging
from unittest.mock import patch
from urllib.parse import urlsplit

from odoo import Command
from odoo.tests import HttpCase, tagged
from odoo.tools import config

from ..controllers.newsletter_optout import HideOptoutTokens
from .common import (
    NewsletterFakesMixin,
    new_developer,
)
from .fakes.common import Reply


@tagged("post_install", "-at_install")
class TestNewsletterOptout(NewsletterFakesMixin, HttpCase):
    # The tests' server is plain http on loopback: allowed by the server
    # configuration only, as the fakes' addresses are.
    server_options = {
        "coop_newsletter_allowed_networks": "127.0.0.0/8",
        "coop_newsletter_optout_allow_http": True,
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shop = cls.env.ref("base.main_company")
        cls.developer = new_developer(cls.env, "coop-optout-dev", cls.shop)
        cls.developer.lang = "en_US"
        cls.Connection = cls.env["coop.newsletter.connection"]
        cls.buyer = cls.env["coop.buyer"].search(
            [
                ("company_id", "=", cls.shop.id),
                ("email_normalized", "!=", False),
                ("opt_out", "=", False),
            ],
            limit=1,
        )
        cls.address = cls.buyer.email_normalized

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param(
            "web.base.url", self.base_url()
        )

    def connect(self, provider_name):
        """Connected, with its list chosen (which registers the webhook)."""
        connection = super().connect(provider_name)
        list_id = self.brevo_list if provider_name == "brevo" else self.mailchimp_list
        connection.action_set_list(str(list_id))
        return connection

    def webhook_url(self, fake):
        (webhook,) = fake.webhooks.values()
        return webhook["url"]

    def post(self, url, **kwargs):
        return self.url_open(urlsplit(url).path, **kwargs)

    def post_brevo(self, url, body):
        return self.post(
            url, data=json.dumps(body), headers={"Content-Type": "application/json"}
        )

    def blacklisted(self, address):
        return self.env["mail.blacklist"].sudo().search([("email", "=", address)])

    def test_brevo_unsubscribe_blacklists_and_is_never_resubscribed(self):
        connection = self.connect("brevo")
        url = self.webhook_url(self.brevo)
        (webhook,) = self.brevo.webhooks.values()
        self.assertEqual(webhook["events"], ["unsubscribed"])
        self.assertEqual(webhook["type"], "marketing")
        self.assertRegex(
            url,
            rf"^{self.base_url()}/coop/newsletter/brevo/[A-Za-z0-9_-]{{43}}$",
        )
        self.assertEqual(
            connection.optout_webhook_id, str(next(iter(self.brevo.webhooks)))
        )
        self.assertFalse(connection.optout_status)
        token = url.rsplit("/", 1)[1]
        self.assertNotIn(token, json.dumps(connection.sudo().read(), default=str))
        # Only the token's hash is stored, in a column no read returns.
        self.env.cr.execute(
            "SELECT row_to_json(c)::text FROM coop_newsletter_connection c "
            "WHERE id = %s",
            [connection.id],
        )
        row = json.loads(self.env.cr.fetchone()[0])
        self.assertNotIn(token, json.dumps(row))
        self.assertEqual(
            row["optout_token_hash"], hashlib.sha256(token.encode()).hexdigest()
        )
        self.sync(connection)
        self.assertFalse(self.brevo.contact(self.address)["blacklisted"])

        answer = self.post_brevo(
            url, {"event": "unsubscribed", "email": self.address.upper()}
        )
        self.assertEqual(answer.status_code, 200, answer.text)
        entry = self.blacklisted(self.address)
        self.assertTrue(entry)
        note = entry.message_ids.mapped("body")
        self.assertTrue(any("Opted out in Brevo" in str(body) for body in note), note)
        self.buyer.invalidate_recordset()
        self.assertTrue(self.buyer.opt_out)
        # The echo changes nothing.
        again = self.post_brevo(url, {"event": "unsubscribed", "email": self.address})
        self.assertEqual(again.json(), {"status": "already"})

        # The payload's own spelling of the event ("unsubscribe") too.
        other = self.env["coop.buyer"].search(
            [
                ("company_id", "=", self.shop.id),
                ("email_normalized", "not in", [False, self.address]),
            ],
            limit=1,
        )
        spelled = self.post_brevo(
            url, {"event": "unsubscribe", "email": other.email_normalized}
        )
        self.assertEqual(spelled.status_code, 200, spelled.text)
        self.assertTrue(self.blacklisted(other.email_normalized))

        self.sync(connection)
        contact = self.brevo.contact(self.address)
        self.assertTrue(contact["blacklisted"])
        self.assertEqual(len(self.blacklisted(self.address)), 1)

    def test_mailchimp_validation_then_unsubscribe_and_cleaned(self):
        connection = self.connect("mailchimp")
        (webhook,) = self.mailchimp.webhooks.values()
        self.assertEqual(webhook["events"], {"unsubscribe": True, "cleaned": True})
        self.assertEqual(webhook["list_id"], self.mailchimp_list)
        url = webhook["url"]
        self.assertIn("/coop/newsletter/mailchimp/", url)
        self.assertEqual(self.url_open(urlsplit(url).path).status_code, 200)
        self.sync(connection)
        members = self.mailchimp.members[self.mailchimp_list]
        self.assertEqual(members[self.address]["status"], "subscribed")

        answer = self.post(
            url,
            data={
                "type": "unsubscribe",
                "data[list_id]": self.mailchimp_list,
                "data[email]": self.address,
            },
        )
        self.assertEqual(answer.status_code, 200, answer.text)
        self.assertTrue(self.blacklisted(self.address))
        self.buyer.invalidate_recordset()
        self.assertTrue(self.buyer.opt_out)
        # What Mailchimp holds now is what the sync sends: no re-subscribe.
        self.sync(connection)
        self.assertEqual(members[self.address]["status"], "unsubscribed")
        # A cleaned (bouncing) address is blacklisted too; another list's
        # event is not this connection's.
        other = self.env["coop.buyer"].search(
            [
                ("company_id", "=", self.shop.id),
                ("email_normalized", "not in", [False, self.address]),
                ("opt_out", "=", False),
            ],
            limit=1,
        )
        foreign = self.post(
            url,
            data={
                "type": "cleaned",
                "data[list_id]": "another",
                "data[email]": other.email_normalized,
            },
        )
        self.assertEqual(foreign.status_code, 400)
        self.assertFalse(self.blacklisted(other.email_normalized))
        cleaned = self.post(
            url,
            data={
                "type": "cleaned",
                "data[list_id]": self.mailchimp_list,
                "data[email]": other.email_normalized,
            },
        )
        self.assertEqual(cleaned.status_code, 200, cleaned.text)
        self.assertTrue(self.blacklisted(other.email_normalized))
        subscribe = self.post(
            url, data={"type": "subscribe", "data[email]": "new@example.org"}
        )
        self.assertEqual(subscribe.status_code, 400)
        self.assertFalse(self.blacklisted("new@example.org"))

    def test_anything_else_is_refused_and_nothing_written(self):
        connection = self.connect("brevo")
        url = self.webhook_url(self.brevo)
        good = {"event": "unsubscribed", "email": self.address}
        wrong_token = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
        cases = [
            (wrong_token, good, 404),
            (url.replace("/brevo/", "/mailchimp/"), good, 404),
            (url.replace("/brevo/", "/other/"), good, 404),
            (url + "x", good, 404),
            (url, {"event": "delivered", "email": self.address}, 400),
            (url, {"event": "unsubscribed"}, 400),
            (url, {"event": "unsubscribed", "email": "a@b.org, c@d.org"}, 400),
            (url, ["unsubscribed", self.address], 400),
        ]
        for target, body, status in cases:
            with self.subTest(target=target[-12:], body=body):
                answer = self.post_brevo(target, body)
                self.assertEqual(answer.status_code, status)
                self.assertIn("error", answer.json())
        not_json = self.post(
            url, data=b"{", headers={"Content-Type": "application/json"}
        )
        self.assertEqual(not_json.status_code, 400)
        nested = self.post(
            url, data=b"[" * 60000, headers={"Content-Type": "application/json"}
        )
        self.assertEqual(nested.status_code, 400)
        huge = self.post(
            url,
            data=json.dumps({**good, "pad": "x" * 70000}),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(huge.status_code, 400)
        self.assertEqual(self.url_open(urlsplit(url).path).status_code, 404)
        self.assertFalse(self.blacklisted(self.address))

        connection.action_disconnect()
        self.assertFalse(self.brevo.webhooks)
        self.assertFalse(connection.optout_webhook_id)
        self.assertEqual(self.post_brevo(url, good).status_code, 404)
        self.assertFalse(self.blacklisted(self.address))

    def test_mailchimp_disconnect_unregisters_and_an_error_never_blocks(self):
        connection = self.connect("mailchimp")
        self.assertTrue(self.mailchimp.webhooks)
        connection.action_disconnect()
        self.assertFalse(self.mailchimp.webhooks)
        # Deleting the connection unregisters it too.
        deleted = self.connect("mailchimp")
        self.assertTrue(self.mailchimp.webhooks)
        deleted.unlink()
        self.assertFalse(self.mailchimp.webhooks)
        # Losing the Developer settings access unregisters it too.
        lost = self.connect("brevo")
        self.assertTrue(self.brevo.webhooks)
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
        self.assertEqual(lost.sudo().state, "disconnected")
        self.assertFalse(self.brevo.webhooks)
        self.developer.write(
            {
                "groups_id": [
                    Command.link(
                        self.env.ref(
                            "coop_developer_settings.group_developer_settings"
                        ).id
                    )
                ]
            }
        )
        # The provider down: the error recorded, disconnected all the same.
        other = self.connect("mailchimp")
        self.mailchimp.hostile = "html"
        other.action_disconnect()
        self.mailchimp.hostile = None
        self.assertEqual(len(self.mailchimp.webhooks), 1)
        self.assertEqual(other.state, "disconnected")
        self.assertTrue(other.last_error)

    def test_deleting_the_owner_unregisters_the_webhook(self):
        """The connections go with their owner, and so do their webhooks at
        the provider: nothing posts opt-outs to a dead URL, as for a
        connection deleted or a removed access."""
        connection = self.connect("brevo")
        self.assertTrue(self.brevo.webhooks)
        self.developer.unlink()
        self.assertFalse(connection.sudo().exists())
        self.assertFalse(self.brevo.webhooks)

    def test_a_webhook_id_that_is_no_id_never_blocks_a_disconnect(self):
        """The provider answers the webhook's registration with an id that
        holds path characters: not kept (the tab says why), and the
        connection disconnects."""
        for fake, path in (
            (self.brevo, "/webhooks"),
            (self.mailchimp, r"/lists/\w+/webhooks"),
        ):
            fake.rewrite(
                "POST",
                path,
                lambda reply: Reply(reply.status, {**reply.body, "id": "1/../2?#"}),
            )
        for provider_name in ("brevo", "mailchimp"):
            connection = self.connect(provider_name)
            self.assertFalse(connection.optout_webhook_id)
            self.assertIn("cannot be read", connection.optout_status)
            connection.action_disconnect()
            self.assertEqual(connection.state, "disconnected")

    def test_a_base_url_not_public_https_registers_nothing(self):
        self.startPatcher(
            patch.dict(
                config.options,
                {
                    "coop_newsletter_optout_allow_http": False,
                    "coop_newsletter_allowed_networks": "",
                },
            )
        )
        Parameters = self.env["ir.config_parameter"].sudo()
        for base_url in ("http://coop.example.org", "https://localhost:8069"):
            with self.subTest(base_url=base_url):
                Parameters.set_param("web.base.url", base_url)
                connection = self.connect("mailchimp")
                self.assertFalse(self.mailchimp.webhooks)
                self.assertFalse(connection.optout_webhook_id)
                self.assertIn("public https web.base.url", connection.optout_status)
                connection.action_disconnect()
        # The reason in the owner's language.
        self.env["res.lang"]._activate_lang("fr_FR")
        self.developer.lang = "fr_FR"
        connection = self.connect("brevo")
        self.assertFalse(self.brevo.webhooks)
        self.assertIn("web.base.url public en https", connection.optout_status)

    def test_the_request_log_hides_the_token(self):
        token = "k9dV78jOzDe2BuezIBcZ25aJCNCcQblyuY2ezt0a0dM"
        werkzeug_log = logging.getLogger("werkzeug")
        (hide,) = [f for f in werkzeug_log.filters if isinstance(f, HideOptoutTokens)]
        record = werkzeug_log.makeRecord(
            "werkzeug",
            logging.INFO,
            __file__,
            0,
            '%s - - [%s] "%s" %s %s',
            (
                "127.0.0.1",
                "02/Dec/2026 21:30:51",
                f"POST /coop/newsletter/mailchimp/{token} HTTP/1.1",
                "200",
                "-",
            ),
            None,
        )
        self.assertTrue(hide.filter(record))
        self.assertNotIn(token, record.getMessage())
        self.assertIn(
            "/coop/newsletter/mailchimp/[token] HTTP/1.1", record.getMessage()
        )
