# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Deliveries as the receiver sees them: signed POSTs, the payloads, retries
on failures, and any answer (odd headers, no HTTP at all, resets, a crashed
job) ending as a recorded attempt."""

import json
from datetime import timedelta

from freezegun import freeze_time
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from odoo import SUPERUSER_ID, Command, fields
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import WebhookCase
from .receiver import RawReceiver, Receiver

NO_CONTENT = b"Content-Length: 0\r\n\r\n"


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


@tagged("post_install", "-at_install")
class TestAnyAnswerEndsAsAnAttempt(WebhookCase):
    """Answers that crashed the delivery job, leaving it pending forever."""

    def deliver_once(self, receiver):
        endpoint = self.endpoint(receiver.url)
        self.create_cycle(state="open")
        self.run_jobs(rounds=1)
        [delivery] = self.deliveries(endpoint)
        self.assertEqual(delivery.attempt_count, 1)
        self.assertEqual(len(delivery.attempt_ids), 1)
        return delivery

    def test_odd_retry_after_headers(self):
        for retry_after in (
            "\xb2".encode("latin-1"),  # "²": a digit for str.isdigit()
            b"Wed, 21 Oct 2015 07:28:00 -0000",  # a date without offset
            b"9" * 5000,  # beyond int()'s digit limit
            b"Wed, 21 Oct 2099 07:28:00 +0100",
        ):
            answer = b"HTTP/1.1 503 Busy\r\nRetry-After: " + retry_after + b"\r\n"
            with (
                self.subTest(retry_after=retry_after[:30]),
                RawReceiver(answer + NO_CONTENT) as receiver,
            ):
                delivery = self.deliver_once(receiver)
                self.assertEqual(
                    (delivery.state, delivery.last_status), ("retrying", 503)
                )
                self.assertTrue(delivery.next_attempt_at)

    def test_a_body_with_nul_bytes(self):
        body = b"ok\x00\x00\xff\xfe then more"
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        with RawReceiver(answer) as receiver:
            delivery = self.deliver_once(receiver)
        self.assertEqual(delivery.state, "done")
        self.assertTrue(delivery.attempt_ids.response.startswith("ok\ufffd\ufffd"))

    def test_no_http_at_all_and_resets(self):
        for steps, state in (
            ((b"\x00\xff not http\r\n\r\n",), "retrying"),
            # Headers cut by the close: what came is a 200.
            ((b"HTTP/1.1 200 OK\r\nX-A: \x00\r\n",), "done"),
            ((RawReceiver.RESET,), "retrying"),
            (
                (
                    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                    RawReceiver.RESET,
                ),
                "retrying",
            ),
        ):
            with self.subTest(steps=steps), RawReceiver(*steps) as receiver:
                delivery = self.deliver_once(receiver)
                self.assertEqual(delivery.state, state)

    @mute_logger("odoo.addons.coop_developer_settings.models.coop_webhook_delivery")
    def test_a_crash_of_the_job_is_an_attempt_without_secrets(self):
        """Here a broken secret makes signing raise: the attempt is logged
        with the exception's class, and the delivery goes on retrying."""
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            endpoint._store_secrets("broken")
            self.create_cycle(state="open")
            self.run_jobs(rounds=1)
        [delivery] = self.deliveries(endpoint)
        self.assertEqual(delivery.state, "retrying")
        self.assertEqual(delivery.attempt_ids.error, "internal error: ValueError")
        self.assertEqual(receiver.requests, [])


@tagged("post_install", "-at_install")
class TestJobsOfDeletedRecords(WebhookCase):
    def test_deleting_an_endpoint_with_a_retry_scheduled(self):
        with Receiver((500, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            self.run_jobs(rounds=1)
            [job] = self.pending_jobs()
            endpoint.with_user(self.developer).action_delete()
            self.assertEqual(job.state, "cancelled")
            self.assertIn("endpoint deleted", job.result)
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 1)

    def test_a_job_whose_delivery_is_gone_ends_cleanly(self):
        """Even when nothing cancelled it (e.g. deleted in SQL)."""
        endpoint = self.endpoint("https://hooks.example.org/x")
        self.create_cycle(state="open")
        [delivery] = self.deliveries(endpoint)
        self.env.cr.execute(
            "DELETE FROM coop_webhook_endpoint WHERE id = %s", [endpoint.id]
        )
        delivery.invalidate_recordset()
        [job] = self.pending_jobs()
        self.run_jobs()
        self.assertEqual(job.state, "done")
        self.assertIn("deleted", job.result)

    def test_jobs_run_as_the_superuser_not_as_the_user_who_caused_them(self):
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            cycle = self.create_cycle(state="scheduled")
            manager = self.env["res.users"].create(
                {
                    "name": "Shop manager",
                    "login": "coop-shop-manager",
                    "groups_id": [
                        (6, 0, [self.env.ref("sales_team.group_sale_manager").id])
                    ],
                    "company_id": self.company.id,
                    "company_ids": [(6, 0, self.company.ids)],
                }
            )
            cycle.with_user(manager).action_open()
            [job] = self.pending_jobs()
            self.assertEqual(job.user_id.id, SUPERUSER_ID)
            manager.unlink()
            self.run_jobs()
        self.assertEqual(self.deliveries(endpoint).state, "done")
        self.assertEqual(len(receiver.requests), 1)
