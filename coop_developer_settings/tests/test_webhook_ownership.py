# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Who owns an endpoint: the owner alone over XML-RPC, the administrators'
explicit hand-over, the recipients checked again when sending, and what
the previous owner keeps (past deliveries, not the new URL)."""

import json

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import (
    GROUP_XMLID,
    DeliveryJobsMixin,
    WebhookCase,
    XmlrpcAssertionsMixin,
    allow_local_receivers,
    new_developer,
)
from .receiver import Receiver


@tagged("post_install", "-at_install")
class TestEndpointOwnershipOverXmlrpc(
    DeliveryJobsMixin, XmlrpcAssertionsMixin, HttpCase
):
    """A developer of one shop, attacking over XML-RPC with their password:
    their endpoint never becomes someone else's, nor outlives its rules."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        allow_local_receivers(cls.env)
        cls.shop_1 = cls.env["res.company"].create({"name": "Shop one"})
        cls.shop_2 = cls.env["res.company"].create({"name": "Shop two"})
        cls.attacker = new_developer(cls.env, "coop-attacker", cls.shop_1)
        cls.victim = new_developer(cls.env, "coop-victim", cls.shop_2)
        cls.opened = cls.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_opened"
        )

    def call(self, method, *args, **kwargs):
        """As the attacker, on the endpoints."""
        return self.xmlrpc_as(
            "coop-attacker", "coop.webhook.endpoint", method, *args, **kwargs
        )

    def test_the_owner_cannot_hand_an_endpoint_over_nor_pin_it(self):
        with Receiver() as receiver:
            endpoint_id = self.call(
                "create", {"event_type_id": self.opened.id, "url": receiver.url}
            )
            for vals in (
                {"user_id": self.victim.id},
                {"user_id": self.env.ref("base.user_admin").id},
                {"state": "enabled", "enabled_at": "2099-01-01 00:00:00"},
                {"previous_secret_until": "2099-01-01 00:00:00"},
                {"disabled_reason": "x"},
                {"event_type_id": self.opened.id},
                {"last_manual_send_at": False},
            ):
                with self.subTest(vals=vals), self.assertAccessDenied():
                    self.call("write", [endpoint_id], vals)
            with self.assertAccessDenied():
                self.call(
                    "create",
                    {
                        "event_type_id": self.opened.id,
                        "url": receiver.url,
                        "enabled_at": "2099-01-01 00:00:00",
                    },
                )
            endpoint = self.env["coop.webhook.endpoint"].browse(endpoint_id)
            self.assertEqual(endpoint.user_id, self.attacker)
            # Shop two opens a cycle: the attacker's URL gets nothing.
            cycle = self.env["coop.sale.cycle"].create(
                {
                    "name": "Shop two's week",
                    "company_id": self.shop_2.id,
                    "date_open": "2026-03-02 08:00:00",
                    "date_close": "2026-03-04 08:00:00",
                }
            )
            cycle.action_open()
            self.run_jobs()
        self.assertFalse(endpoint.delivery_ids)
        self.assertEqual(receiver.requests, [])

    def test_the_owners_own_actions_still_work(self):
        endpoint_id = self.call(
            "create",
            {"event_type_id": self.opened.id, "url": "https://hooks.example.org/x"},
        )
        self.call("action_disable", [endpoint_id])
        self.call("action_enable", [endpoint_id])
        self.call("write", [endpoint_id], {"url": "https://hooks.example.org/y"})
        [row] = self.call("read", [endpoint_id], ["url", "state", "user_id"])
        self.assertEqual(
            (row["url"], row["state"], row["user_id"][0]),
            ("https://hooks.example.org/y", "enabled", self.attacker.id),
        )


@tagged("post_install", "-at_install")
class TestEndpointOwnerChange(WebhookCase):
    """Administrators hand an endpoint over explicitly, with checks."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_shop = cls.env["res.company"].create({"name": "Other shop"})
        cls.colleague = new_developer(cls.env, "coop-colleague", cls.company)
        cls.outsider = new_developer(cls.env, "coop-outsider", cls.other_shop)
        cls.admin = cls.env.ref("base.user_admin")

    def change_owner(self, endpoint, user):
        wizard = (
            self.env["coop.webhook.endpoint.owner.wizard"]
            .with_user(self.admin)
            .create({"endpoint_id": endpoint.id, "user_id": user.id})
        )
        return wizard.action_confirm()

    def test_only_administrators_and_only_to_users_with_the_access(self):
        endpoint = self.endpoint("https://hooks.example.org/x")
        with self.assertRaises(AccessError):
            endpoint.with_user(self.developer)._change_owner(self.colleague)
        with self.assertRaises(AccessError):
            endpoint.with_user(self.developer).action_change_owner()
        plain = new_test_user(self.env, login="coop-plain-2", groups="base.group_user")
        with self.assertRaises(ValidationError):
            self.change_owner(endpoint, plain)
        self.colleague.action_archive()
        with self.assertRaises(ValidationError):
            endpoint.with_user(self.admin)._change_owner(self.colleague)
        self.assertEqual(endpoint.user_id, self.developer)

    def test_the_wizard_is_its_creators_own(self):
        endpoint = self.endpoint("https://hooks.example.org/x")
        wizard = (
            self.env["coop.webhook.endpoint.owner.wizard"]
            .with_user(self.admin)
            .create({"endpoint_id": endpoint.id, "user_id": self.colleague.id})
        )
        other_admin = new_test_user(
            self.env, login="coop-other-admin", groups="base.group_system"
        )
        with self.assertRaises(AccessError):
            wizard.with_user(other_admin).write({"user_id": self.outsider.id})
        with self.assertRaises(AccessError):
            wizard.with_user(other_admin).action_confirm()
        self.assertEqual(endpoint.user_id, self.developer)

    def test_to_another_shop_the_retries_are_cancelled(self):
        with Receiver((500, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            self.run_jobs(rounds=1)
            [delivery] = self.deliveries(endpoint)
            self.assertEqual(delivery.state, "retrying")
            self.change_owner(endpoint, self.outsider)
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 1, "no retry after the change")
        self.assertEqual(endpoint.user_id, self.outsider)
        self.assertEqual(delivery.state, "cancelled")
        self.assertIn("changed owner", delivery.last_error)
        self.assertEqual(delivery.user_id, self.developer, "it stays theirs")
        with self.assertRaises(AccessError):
            delivery.with_user(self.outsider).read(["body"])
        self.assertIn("Owner changed", endpoint.sudo().message_ids[0].body)

    def test_to_a_colleague_the_retries_follow_and_the_past_stays(self):
        with Receiver((200, {}, 0), (503, {}, 0), (200, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            endpoint.with_user(self.developer).action_send_test_event()
            self.run_jobs()
            [past] = self.deliveries(endpoint)
            self.create_cycle(state="open")
            self.run_jobs(rounds=1)
            moving = self.deliveries(endpoint) - past
            self.assertEqual((past.state, moving.state), ("done", "retrying"))
            self.change_owner(endpoint, self.colleague)
            self.run_jobs()
        self.assertEqual(moving.state, "done")
        self.assertEqual(moving.user_id, self.colleague)
        self.assertEqual(past.user_id, self.developer, "past deliveries stay")
        self.assertEqual(len(receiver.requests), 3)


@tagged("post_install", "-at_install")
class TestPastDeliveriesAfterHandOver(WebhookCase):
    """After Change owner, the previous owner's past deliveries stay
    theirs to read, not to send again, and without the new owner's URL."""

    def hand_over(self, receiver):
        """An endpoint with one past delivery, handed by an administrator to
        a colleague: (endpoint, past delivery, colleague)."""
        colleague = new_developer(self.env, "coop-new-owner", self.company)
        endpoint = self.endpoint(receiver.url)
        self.create_cycle(state="open")
        self.run_jobs()
        past = self.deliveries(endpoint)
        endpoint.sudo()._change_owner(colleague)
        return endpoint, past, colleague

    def test_the_previous_owner_cannot_redeliver(self):
        """After Change owner, the previous owner keeps their past
        deliveries but sends nothing more, nor uses up the new owner's
        manual sends."""
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_manual_send_interval", "10"
        )
        with Receiver() as receiver:
            endpoint, past, colleague = self.hand_over(receiver)
            with self.assertRaisesRegex(UserError, "another owner"):
                past.with_user(self.developer).action_redeliver()
            endpoint.with_user(colleague).action_send_test_event()
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 2)

    def test_the_previous_owner_does_not_read_the_new_owners_url(self):
        with Receiver() as receiver:
            endpoint, past, colleague = self.hand_over(receiver)
        new_url = "https://hooks.example.org/catch/4242/new-owner-token"
        endpoint.with_user(colleague).write({"url": new_url})
        [seen] = past.with_user(self.developer).read(["url", "endpoint_id"])
        self.assertFalse(seen["url"])
        self.assertEqual(
            seen["endpoint_id"],
            (endpoint.id, f"Endpoint {endpoint.id} of another user"),
        )
        admin = self.env.ref("base.user_admin")
        [seen] = past.with_user(admin).read(["url", "endpoint_id"])
        self.assertEqual((seen["url"], seen["endpoint_id"][1]), (new_url, new_url))


@tagged("post_install", "-at_install")
class TestRecipientsCheckedWhenSending(WebhookCase):
    """Between the event and its delivery, the owner may lose the access or
    the company: the delivery job checks again."""

    def test_company_removed_after_the_event(self):
        other_shop = self.env["res.company"].create({"name": "Elsewhere"})
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            [delivery] = self.deliveries(endpoint)
            self.developer.write(
                {
                    "company_ids": [Command.set(other_shop.ids)],
                    "company_id": other_shop.id,
                }
            )
            self.run_jobs()
        self.assertEqual(receiver.requests, [])
        self.assertEqual(delivery.state, "cancelled")
        self.assertIn("company", delivery.last_error)

    def test_access_removed_but_webhooks_kept_after_the_event(self):
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            [delivery] = self.deliveries(endpoint)
            self.developer.write(
                {
                    "groups_id": [Command.unlink(self.env.ref(GROUP_XMLID).id)],
                    "coop_revoke_on_access_removal": False,
                }
            )
            self.assertEqual(endpoint.sudo().state, "enabled", "kept on request")
            self.run_jobs()
        self.assertEqual(receiver.requests, [])
        self.assertEqual(delivery.state, "cancelled")


@tagged("post_install", "-at_install")
class TestChatterAfterHandOver(DeliveryJobsMixin, HttpCase):
    """After Change owner, only the current owner and administrators see the
    endpoint's URL: not the previous owner through the notices they are
    sent or follow, not the new owner through what the chatter tracked."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        allow_local_receivers(cls.env)
        cls.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_manual_send_interval", "0"
        )
        cls.previous = new_developer(cls.env, "coop-chatter-old", cls.env.company)
        cls.new = new_developer(cls.env, "coop-chatter-new", cls.env.company)
        cls.opened = cls.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_opened"
        )

    def thread_messages(self, user, endpoint):
        """The chatter as the web client reads it, over HTTP."""
        self.authenticate(user.login, user.login)
        return json.dumps(
            self.make_jsonrpc_request(
                "/mail/thread/messages",
                {"thread_model": endpoint._name, "thread_id": endpoint.id},
            )
        )

    def test_the_urls_stay_with_their_owner(self):
        with Receiver((410, {}, 0)) as receiver:
            old_url = f"{receiver.url}/old-owner-token"
            new_url = f"{receiver.url}/new-owner-token"
            endpoint = (
                self.env["coop.webhook.endpoint"]
                .with_user(self.previous)
                .create({"event_type_id": self.opened.id, "url": f"{old_url}/1"})
                .with_env(self.env)
            )
            endpoint.with_user(self.previous).write({"url": old_url})
            endpoint.with_user(self.env.ref("base.user_admin"))._change_owner(self.new)
            endpoint.with_user(self.new).write({"url": new_url})
            endpoint.with_user(self.new).action_send_test_event()
            self.run_jobs()
        self.assertEqual(endpoint.state, "disabled", "410: disabled, with a notice")
        self.assertEqual(endpoint.message_partner_ids, self.new.partner_id)
        notice = endpoint.message_ids.filtered(lambda m: "410" in (m.body or ""))
        self.assertEqual(len(notice), 1)
        self.assertEqual(notice.notification_ids.res_partner_id, self.new.partner_id)

        # The previous owner: neither the new URL nor any message of it.
        seen = (
            self.env["mail.message"]
            .with_user(self.previous)
            .search_read([("model", "=", endpoint._name), ("res_id", "=", endpoint.id)])
        )
        self.assertNotIn("new-owner-token", str(seen))
        self.assertNotIn(
            "new-owner-token", self.thread_messages(self.previous, endpoint)
        )
        # The new owner: not the previous owner's URLs, in the tracking nor
        # in the names the messages keep of the endpoint.
        seen = (
            self.env["mail.message"]
            .with_user(self.new)
            .search_read([("model", "=", endpoint._name), ("res_id", "=", endpoint.id)])
        )
        self.assertTrue(seen)
        self.assertNotIn("old-owner-token", str(seen))
        chatter = self.thread_messages(self.new, endpoint)
        self.assertIn("410", chatter, "the new owner reads the notice")
        self.assertNotIn("old-owner-token", chatter)
        self.assertFalse(
            endpoint.sudo().message_ids.tracking_value_ids.filtered(
                lambda value: value.field_id.name == "url"
            )
        )
