# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import json
from datetime import timedelta

from freezegun import freeze_time
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from odoo import Command, fields
from odoo.tests import new_test_user, tagged

from .common import WebhookCase
from .receiver import Receiver


@tagged("post_install", "-at_install")
class TestWebhookDelivery(WebhookCase):
    def secret(self, endpoint):
        return endpoint._secret()

    def verify(self, endpoint, request):
        """The reference verifier accepts the request; returns the payload."""
        return Webhook(self.secret(endpoint)).verify(
            request["body"], request["headers"]
        )

    def test_opening_a_cycle_delivers_a_signed_post(self):
        cycle = self.create_cycle(
            state="scheduled", shop_url="https://shop.example.org"
        )
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            cycle.action_open()
            [delivery] = self.deliveries(endpoint)
            self.assertEqual(delivery.state, "pending")
            self.assertEqual(len(self.pending_jobs()), 1, "one job for the batch")
            self.run_jobs()
        [request] = receiver.requests
        payload = self.verify(endpoint, request)
        self.assertEqual(set(payload), {"id", "type", "timestamp", "data"})
        self.assertEqual(payload["type"], "sale_cycle.opened")
        self.assertEqual(payload["id"], delivery.webhook_id)
        self.assertEqual(request["headers"]["webhook-id"], delivery.webhook_id)
        self.assertEqual(request["headers"]["Content-Type"], "application/json")
        self.assertRegex(
            request["headers"]["User-Agent"],
            r"^coop-developer-settings/18\.0\.\S+ \(Odoo\)$",
        )
        self.assertEqual(request["body"], delivery.body.encode(), "the stored bytes")
        data = payload["data"]
        self.assertEqual(
            (data["id"], data["name"], data["state"], data["shop_url"]),
            (cycle.id, cycle.name, "open", "https://shop.example.org"),
        )
        self.assertEqual(
            data["company"], {"id": self.company.id, "name": self.company.name}
        )
        self.assertTrue(data["opened_at"])
        self.assertNotIn("order_count", data)
        self.assertEqual((delivery.state, delivery.attempt_count), ("done", 1))
        self.assertEqual(delivery.attempt_ids.status_code, 200)

    def test_closing_delivers_the_figures_without_personal_data(self):
        cycle = self.create_cycle(state="open")
        buyer = self.env["res.partner"].create(
            {"name": "Private Buyer", "email": "p@x.org"}
        )
        product = self.env["product.product"].create({"name": "Eggs", "list_price": 4})
        order = self.env["sale.order"].create(
            {
                "partner_id": buyer.id,
                "company_id": self.company.id,
                "order_line": [Command.create({"product_id": product.id})],
            }
        )
        order.action_confirm()
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url, self.closed_type)
            self.endpoint(receiver.url)  # opened: must not receive "closed"
            cycle.action_close()
            self.run_jobs()
        [request] = receiver.requests
        payload = self.verify(endpoint, request)
        self.assertEqual(payload["type"], "sale_cycle.closed")
        data = payload["data"]
        self.assertEqual((data["order_count"], data["buyer_count"]), (1, 1))
        self.assertEqual(data["amount_total"], order.amount_total)
        self.assertEqual(data["currency"], self.company.currency_id.name)
        self.assertNotIn(b"Private Buyer", request["body"])
        self.assertNotIn(b"p@x.org", request["body"])

    def test_send_test_event(self):
        self.create_cycle(state="open", name="Sample week")
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            endpoint.with_user(self.developer).action_send_test_event()
            self.run_jobs()
        [request] = receiver.requests
        payload = self.verify(endpoint, request)
        self.assertEqual(payload["type"], "webhook.test")
        self.assertEqual(payload["data"]["company"]["id"], self.company.id)

    def test_500_500_200_same_id_three_times_then_done(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_retry_schedule", "1,1,1"
        )
        cycle = self.create_cycle(state="scheduled")
        with Receiver((500, {}, 0), (500, {}, 0), (200, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            cycle.action_open()
            self.run_jobs()
        ids = [request["headers"]["webhook-id"] for request in receiver.requests]
        self.assertEqual(len(ids), 3)
        self.assertEqual(len(set(ids)), 1, "receivers dedupe on the same webhook-id")
        bodies = {request["body"] for request in receiver.requests}
        self.assertEqual(len(bodies), 1, "the same bytes every time")
        for request in receiver.requests:
            self.verify(endpoint, request)
        [delivery] = self.deliveries(endpoint)
        self.assertEqual((delivery.state, delivery.attempt_count), ("done", 3))
        self.assertEqual(
            sorted(delivery.attempt_ids.mapped("status_code")), [200, 500, 500]
        )
        endpoint.invalidate_recordset(["failing_since"])
        self.assertFalse(endpoint.failing_since, "a success clears the failure clock")

    def test_exhausted_retries_fail_the_delivery(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_retry_schedule", "1"
        )
        with Receiver((503, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 2)
        [delivery] = self.deliveries(endpoint)
        self.assertEqual(delivery.state, "failed")
        self.assertEqual(endpoint.state, "enabled", "one failure is not five days")

    def test_410_disables_at_once_and_tells_the_owner(self):
        with Receiver((410, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 1)
        self.assertEqual(endpoint.state, "disabled")
        self.assertIn("410", endpoint.disabled_reason)
        notice = endpoint.message_ids.filtered(
            lambda m: self.developer.partner_id in m.partner_ids
        )
        self.assertTrue(notice, "the owner is notified")
        self.assertIn("re-enable", notice[0].body)
        self.assertNotIn(endpoint._secret(), notice[0].body)

    def test_five_days_of_failures_disable_and_notify(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_retry_schedule", "1,1,1,1,1"
        )
        with Receiver((500, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            start = fields.Datetime.now()
            with freeze_time(start):
                self.create_cycle(state="open")
                self.run_jobs(rounds=1)
            endpoint.invalidate_recordset(["failing_since"])
            self.assertEqual(endpoint.failing_since, start)
            with freeze_time(start + timedelta(days=4)):
                self.run_jobs(rounds=1)
            self.assertEqual(endpoint.state, "enabled")
            with freeze_time(start + timedelta(days=5, minutes=1)):
                self.run_jobs(rounds=1)
        self.assertEqual(endpoint.state, "disabled")
        self.assertIn("5 days", endpoint.disabled_reason)
        [delivery] = self.deliveries(endpoint)
        self.assertEqual(delivery.state, "cancelled")
        self.assertFalse(
            self.pending_jobs(), "no attempt after the endpoint is disabled"
        )
        # Re-enabling says what failed meanwhile; redelivering sends it again.
        notice = endpoint.with_user(self.developer).action_enable()
        self.assertIn("Redeliver failed", notice["params"]["message"])
        endpoint.with_user(self.developer).action_redeliver_failed()
        with Receiver() as receiver:
            endpoint.sudo().url = receiver.url
            self.run_jobs()
        self.assertEqual(delivery.state, "done")
        self.assertEqual(
            receiver.requests[0]["headers"]["webhook-id"], delivery.webhook_id
        )

    def test_redirect_is_not_followed(self):
        with Receiver() as target, Receiver((302, {}, 0)) as receiver:
            receiver.script = [(302, {"Location": target.url}, 0)]
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            self.run_jobs()
        self.assertEqual(target.requests, [])
        [delivery] = self.deliveries(endpoint)
        self.assertEqual((delivery.state, delivery.last_status), ("failed", 302))

    def test_receiver_slower_than_the_timeout_is_retried(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_retry_schedule", "1"
        )
        with Receiver((200, {}, 3), (200, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            self.run_jobs()
        [delivery] = self.deliveries(endpoint)
        self.assertEqual((delivery.state, delivery.attempt_count), ("done", 2))
        self.assertIn("timeout", delivery.attempt_ids.sorted("id")[0].error)

    def test_rollback_of_the_opening_sends_nothing(self):
        cycle = self.create_cycle(state="scheduled")
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            jobs_before = self.env["queue.job"].search_count([])
            with self.assertRaises(ZeroDivisionError), self.env.cr.savepoint():
                cycle.action_open()
                self.assertEqual(len(self.deliveries(endpoint)), 1)
                _ = 1 / 0  # the transaction of the opening fails afterwards
            self.assertEqual(self.env["queue.job"].search_count([]), jobs_before)
            self.assertFalse(self.deliveries(endpoint))
            self.run_jobs()
        self.assertEqual(receiver.requests, [])

    def test_only_allowed_owners_receive(self):
        other_shop = self.env["res.company"].create({"name": "Other shop"})
        outsider = new_test_user(
            self.env,
            login="coop-other-shop-dev",
            groups="base.group_user,coop_developer_settings.group_developer_settings",
            company_id=other_shop.id,
            company_ids=[Command.set(other_shop.ids)],
        )
        revoked = new_test_user(
            self.env,
            login="coop-revoked-dev",
            groups="base.group_user,coop_developer_settings.group_developer_settings",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        with Receiver() as receiver:
            mine = self.endpoint(receiver.url)
            theirs = self.endpoint(receiver.url, user=outsider)
            gone = self.endpoint(receiver.url, user=revoked)
            revoked.write(
                {
                    "groups_id": [
                        Command.unlink(
                            self.env.ref(
                                "coop_developer_settings.group_developer_settings"
                            ).id
                        )
                    ],
                    "coop_revoke_on_access_removal": False,
                }
            )
            self.create_cycle(state="open")
            self.run_jobs()
        self.assertEqual(len(self.deliveries(mine)), 1)
        self.assertFalse(self.deliveries(theirs), "not allowed on the cycle's company")
        self.assertFalse(self.deliveries(gone), "no longer holds the access")
        self.assertEqual(len(receiver.requests), 1)

    def test_rotation_keeps_both_signatures_valid_for_24_hours(self):
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            old = self.secret(endpoint)
            endpoint.with_user(self.developer)._rotate_secret()
            new = self.secret(endpoint)
            self.assertNotEqual(old, new)
            endpoint.with_user(self.developer).action_send_test_event()
            self.run_jobs()
            first = receiver.requests[0]
            for secret in (old, new):
                Webhook(secret).verify(first["body"], first["headers"])
            with freeze_time(fields.Datetime.now() + timedelta(hours=25)):
                endpoint.with_user(self.developer).action_send_test_event()
                self.run_jobs()
                later = receiver.requests[1]
                self.assertEqual(len(later["headers"]["webhook-signature"].split()), 1)
                Webhook(new).verify(later["body"], later["headers"])
                with self.assertRaises(WebhookVerificationError):
                    Webhook(old).verify(later["body"], later["headers"])
        self.assertNotIn(old, json.dumps(endpoint.message_ids.mapped("body")))

    def test_purge_removes_what_is_older_than_the_retention_but_in_flight(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_retry_schedule", "1"
        )
        with Receiver((200, {}, 0), (503, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            self.run_jobs()
            [done] = self.deliveries(endpoint)
            endpoint.with_user(self.developer).action_send_test_event()
            self.run_jobs(rounds=1)
        retrying = self.deliveries(endpoint) - done
        self.assertEqual((done.state, retrying.state), ("done", "retrying"))
        done_event, retrying_event = done.event_id, retrying.event_id
        Delivery = self.env["coop.webhook.delivery"]
        self.assertEqual(Delivery._cron_purge(), 0)
        with freeze_time(fields.Datetime.now() + timedelta(days=31)):
            self.assertEqual(Delivery._cron_purge(), 1)
        self.assertFalse(done.exists())
        self.assertFalse(done_event.exists(), "the event goes with its deliveries")
        self.assertTrue(retrying.exists(), "still on its way")
        self.assertTrue(retrying_event.exists())
