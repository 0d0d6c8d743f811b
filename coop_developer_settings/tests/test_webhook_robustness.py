# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import timedelta

from freezegun import freeze_time

from odoo import SUPERUSER_ID, fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.coop_webhook_endpoint_replay import TooManySends
from .common import WebhookCase
from .receiver import RawReceiver, Receiver

NO_CONTENT = b"Content-Length: 0\r\n\r\n"


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


@tagged("post_install", "-at_install")
class TestManualSends(WebhookCase):
    def test_send_test_event_is_rate_limited_per_endpoint(self):
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url).with_user(self.developer)
            other = self.endpoint(receiver.url + "/2").with_user(self.developer)
            now = fields.Datetime.now()
            with freeze_time(now):
                endpoint.action_send_test_event()
                other.action_send_test_event()  # another endpoint: its own limit
                with self.assertRaisesRegex(UserError, "wait 10 seconds"):
                    endpoint.action_send_test_event()
            with freeze_time(now + timedelta(seconds=9)):
                with self.assertRaises(UserError):
                    endpoint.action_send_test_event()
            with freeze_time(now + timedelta(seconds=11)):
                endpoint.action_send_test_event()
            self.env["ir.config_parameter"].set_param(
                "coop_developer_settings.webhook_manual_send_interval", "60"
            )
            with freeze_time(now + timedelta(seconds=50)), self.assertRaises(UserError):
                endpoint.action_send_test_event()
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 3)

    def test_redeliver_is_rate_limited_too(self):
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            now = fields.Datetime.now()
            with freeze_time(now):
                endpoint.with_user(self.developer).action_send_test_event()
                self.run_jobs()
                [delivery] = self.deliveries(endpoint)
                with self.assertRaises(TooManySends) as refused:
                    delivery.with_user(self.developer).action_redeliver()
                self.assertEqual(refused.exception.retry_after, 10)
            with freeze_time(now + timedelta(seconds=11)):
                delivery.with_user(self.developer).action_redeliver()
                self.run_jobs()
        self.assertEqual(len(receiver.requests), 2)

    def test_redeliver_of_a_queued_delivery_sends_it_once(self):
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            [delivery] = self.deliveries(endpoint)
            notice = delivery.with_user(self.developer).action_redeliver()
            self.assertIn("already queued", notice["params"]["message"])
            self.assertEqual(len(self.pending_jobs()), 1, "no second job")
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 1)
        self.assertEqual((delivery.state, delivery.attempt_count), ("done", 1))

    def test_redeliver_of_a_retrying_delivery_retries_it_now_once(self):
        with Receiver((500, {}, 0), (200, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            self.run_jobs(rounds=1)
            [delivery] = self.deliveries(endpoint)
            [scheduled] = self.pending_jobs()
            self.assertEqual(delivery.state, "retrying")
            delivery.with_user(self.developer).action_redeliver()
            self.assertEqual(scheduled.state, "cancelled")
            [now_job] = self.pending_jobs()
            self.assertFalse(now_job.eta, "retried now")
            # Even if the replaced job ran anyway, it would send nothing.
            scheduled.state = "pending"
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 2)
        self.assertEqual((delivery.state, delivery.attempt_count), ("done", 2))
        self.assertIn("replaced", scheduled.result)
