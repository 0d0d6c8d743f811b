# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from freezegun import freeze_time

from odoo.tests import tagged

from .common import T0, WebhookCase
from .receiver import Receiver


@tagged("post_install", "-at_install")
class TestStaleEventsExpire(WebhookCase):
    """An "opened" or a reminder still on its way when the cycle closes (or
    is cancelled) is never sent: its delivery expires, with the reason."""

    def test_closing_expires_opened_and_closing_soon_but_never_closed(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_retry_schedule", "1,1,1"
        )
        with Receiver((503, {}, 0), (503, {}, 0), (200, {}, 0)) as receiver:
            opened = self.endpoint(receiver.url)
            closing_soon = self.endpoint(receiver.url, self.closing_soon_type)
            closed = self.endpoint(receiver.url, self.closed_type)
            with freeze_time(T0):
                cycle = self.create_cycle(opens_in_hours=0, lasts_hours=5)
                cycle.action_open()
            self.run_jobs(rounds=1)
            late = self.deliveries(opened) | self.deliveries(closing_soon)
            self.assertEqual(late.mapped("state"), ["retrying", "retrying"])
            cycle.action_close()
            self.assertEqual(late.mapped("state"), ["expired", "expired"])
            self.assertFalse(
                self.pending_jobs().filtered(
                    lambda job: job.records.endpoint_id != closed
                ),
                "their retries are cancelled",
            )
            self.run_jobs()
        for delivery in late:
            self.assertEqual(
                delivery.last_error, "The sale cycle closed before it was sent."
            )
            self.assertFalse(delivery.next_attempt_at)
        self.assertEqual(self.deliveries(closed).state, "done")
        self.assertEqual(
            [request["body"] for request in receiver.requests[2:]],
            [self.deliveries(closed).event_id.body.encode()],
            "after the closing, only 'closed' is sent",
        )

    def test_cancelling_expires_them_with_its_reason(self):
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            cycle = self.create_cycle(state="open")
            cycle.action_cancel()
            self.run_jobs()
        self.assertEqual(receiver.requests, [])
        [delivery] = self.deliveries(endpoint)
        self.assertEqual(
            (delivery.state, delivery.last_error),
            ("expired", "The sale cycle was cancelled before it was sent."),
        )

    def test_an_administrator_can_keep_them_per_event_type(self):
        self.assertTrue(self.opened_type.can_be_stale)
        self.assertFalse(self.closed_type.can_be_stale, "'closed' is never late")
        self.opened_type.expire_when_stale = False
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            cycle = self.create_cycle(state="open")
            cycle.action_close()
            self.run_jobs()
        self.assertEqual(self.deliveries(endpoint).state, "done")
        self.assertEqual(len(receiver.requests), 1)

    def test_the_job_checks_again_right_before_sending(self):
        """Whatever the transition missed (a delivery it could not lock, or
        one queued by a transaction it did not see), the job expires."""
        self.opened_type.expire_when_stale = False
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            cycle = self.create_cycle(state="open")
            cycle.action_close()
            [delivery] = self.deliveries(endpoint)
            self.assertEqual(delivery.state, "pending")
            self.opened_type.expire_when_stale = True
            self.run_jobs()
        self.assertEqual(receiver.requests, [])
        self.assertEqual(delivery.state, "expired")
        self.assertFalse(delivery.attempt_ids)

    def test_redelivering_a_stale_event_expires_it_again(self):
        with Receiver((500, {}, 0)) as receiver:
            self.env["ir.config_parameter"].set_param(
                "coop_developer_settings.webhook_retry_schedule", "1"
            )
            endpoint = self.endpoint(receiver.url)
            cycle = self.create_cycle(state="open")
            self.run_jobs()
            [delivery] = self.deliveries(endpoint)
            self.assertEqual(delivery.state, "failed")
            cycle.action_close()
            delivery.with_user(self.developer).action_redeliver()
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 2, "nothing after the closing")
        self.assertEqual(delivery.state, "expired")
