# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import timedelta

from standardwebhooks.webhooks import Webhook

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..models.coop_webhook_endpoint_replay import TooManySends
from .common import WebhookCase, new_developer
from .receiver import Receiver


@tagged("post_install", "-at_install")
class TestResendEventsSince(WebhookCase):
    """Resend events since...: the endpoint's events again, with their ids,
    those of the time it was disabled included; bounded and rate-limited."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # One send per test: the rate limit is tested on its own.
        cls.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_manual_send_interval", "0"
        )

    def wizard(self, endpoint, since, user=None):
        return (
            self.env["coop.webhook.resend.wizard"]
            .with_user(user or self.developer)
            .create({"endpoint_id": endpoint.id, "since": since})
        )

    def resend(self, endpoint, since, user=None):
        wizard = self.wizard(endpoint, since, user)
        return wizard, wizard.action_resend()

    def an_hour_ago(self):
        return fields.Datetime.now() - timedelta(hours=1)

    def test_events_of_the_disabled_time_arrive_with_their_original_ids(self):
        other_shop = self.env["res.company"].create({"name": "Resend elsewhere"})
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            before = self.create_cycle(state="open", name="Before")
            self.run_jobs()
            endpoint.with_user(self.developer).action_disable()
            during = self.create_cycle(state="open", name="While disabled")
            self.create_cycle(state="open", company_id=other_shop.id)
            endpoint.with_user(self.developer).action_enable()
            wizard = self.wizard(endpoint, self.an_hour_ago())
            self.assertEqual(wizard.event_count, 2, "its type, its shop")
            wizard.action_resend()
            wizard.invalidate_recordset(["event_count"])
            self.assertEqual(wizard.event_count, 0, "all on their way now")
            self.run_jobs()
        events = self.cycle_events(before, "sale_cycle.opened") | self.cycle_events(
            during, "sale_cycle.opened"
        )
        # Sent at once (up to 4 to one endpoint): in any order.
        received = [request["headers"]["webhook-id"] for request in receiver.requests]
        self.assertEqual(
            sorted(received),
            sorted([events[0].public_id, events[0].public_id, events[1].public_id]),
        )
        for request in receiver.requests:
            Webhook(endpoint._secret()).verify(request["body"], request["headers"])
        replays = self.deliveries(endpoint).filtered("is_replay")
        self.assertEqual(replays.event_id, events)
        self.assertEqual(set(replays.mapped("state")), {"done"})

    def test_only_its_own_reminders_and_nothing_on_its_way_twice(self):
        mine = self.endpoint("https://hooks.example.org/a", self.closing_soon_type)
        other = self.endpoint("https://hooks.example.org/b", self.closing_soon_type)
        cycle = self.create_cycle(state="open")
        cycle.date_close = fields.Datetime.now() + timedelta(hours=3)
        self.Cycle._send_due_reminders()
        [queued] = self.deliveries(mine)
        self.assertEqual(queued.state, "pending")
        self.assertEqual(self.wizard(mine, self.an_hour_ago()).event_count, 0)
        _wizard, notice = self.resend(mine, self.an_hour_ago())
        self.assertIn("0 events queued again", notice["params"]["message"])
        self.assertEqual(self.deliveries(mine), queued, "not twice")
        self.assertEqual(len(self.deliveries(other)), 1)

    def test_stale_events_are_not_sent_again(self):
        cycle = self.create_cycle(state="open")
        cycle.action_close()
        endpoint = self.endpoint("https://hooks.example.org/a")
        _wizard, notice = self.resend(endpoint, self.an_hour_ago())
        self.assertIn("too late", notice["params"]["message"])
        replay = self.deliveries(endpoint).filtered("is_replay")
        self.assertEqual(
            (replay.state, replay.last_error),
            ("expired", "The sale cycle closed before it was sent."),
        )
        self.assertFalse(self.pending_jobs())

    def test_at_most_a_thousand_events_and_the_retention_back(self):
        endpoint = self.endpoint("https://hooks.example.org/a")
        now = fields.Datetime.now()
        self.env["coop.webhook.event"].create(
            [
                {
                    "event_type_id": self.opened_type.id,
                    "company_id": self.company.id,
                    "occurred_at": now - timedelta(days=2, seconds=index),
                    "data": {"id": index},
                }
                for index in range(1005)
            ]
        )
        with self.assertRaisesRegex(UserError, "1005 events .* at most 1000"):
            self.resend(endpoint, now - timedelta(days=3))
        self.assertFalse(self.deliveries(endpoint), "nothing queued")
        with self.assertRaisesRegex(UserError, "kept 30 days"):
            self.resend(endpoint, now - timedelta(days=31))
        with self.assertRaises(UserError):
            self.resend(endpoint, now + timedelta(hours=1))
        self.resend(endpoint, now - timedelta(days=2, seconds=10))
        self.assertEqual(len(self.deliveries(endpoint)), 11)

    def test_rate_limited_like_the_other_manual_sends(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_manual_send_interval", "10"
        )
        self.create_cycle(state="open")
        endpoint = self.endpoint("https://hooks.example.org/a")
        self.resend(endpoint, self.an_hour_ago())
        with self.assertRaisesRegex(TooManySends, "Too many sends"):
            self.resend(endpoint, self.an_hour_ago())
        self.assertEqual(len(self.deliveries(endpoint)), 1)

    def test_the_owner_or_an_administrator_of_an_enabled_endpoint(self):
        self.create_cycle(state="open")
        endpoint = self.endpoint("https://hooks.example.org/a")
        colleague = new_developer(self.env, "coop-resend-colleague", self.company)
        with self.assertRaises(AccessError):
            self.resend(endpoint, self.an_hour_ago(), user=colleague)
        self.resend(endpoint, self.an_hour_ago(), user=self.env.ref("base.user_admin"))
        self.assertEqual(len(self.deliveries(endpoint).filtered("is_replay")), 1)
        endpoint.with_user(self.developer).action_disable()
        with self.assertRaisesRegex(UserError, "disabled"):
            self.resend(endpoint, self.an_hour_ago())


@tagged("post_install", "-at_install")
class TestEnableAndResendFailed(WebhookCase):
    def test_one_click_enables_and_sends_what_it_missed(self):
        with Receiver((410, {}, 0)) as gone:
            endpoint = self.endpoint(gone.url)
            failed_cycle = self.create_cycle(state="open", name="Failed")
            self.run_jobs()
        self.assertEqual(endpoint.state, "disabled", "410 Gone")
        [failed] = self.deliveries(endpoint)
        missed_cycle = self.create_cycle(state="open", name="Missed")
        stale_cycle = self.create_cycle(state="closed", name="Over")
        with Receiver() as receiver:
            endpoint.with_user(self.developer).url = receiver.url
            notice = endpoint.with_user(self.developer).action_enable_and_resend()
            self.assertEqual(endpoint.state, "enabled")
            self.run_jobs()
        self.assertIn("2 events queued again", notice["params"]["message"])
        self.assertEqual(failed.state, "done", "the failed delivery itself")
        expected = [
            self.cycle_events(cycle, "sale_cycle.opened").public_id
            for cycle in (failed_cycle, missed_cycle)
        ]
        self.assertEqual(
            sorted(request["headers"]["webhook-id"] for request in receiver.requests),
            sorted(expected),
        )
        for request in receiver.requests:
            Webhook(endpoint._secret()).verify(request["body"], request["headers"])
        [stale] = self.deliveries(endpoint).filtered(
            lambda delivery: delivery.event_id.res_id == stale_cycle.id
        )
        self.assertEqual(stale.state, "expired")

    def test_what_expired_while_down_is_sent_once_no_longer_stale(self):
        endpoint = self.endpoint("https://hooks.example.org/down")
        cycle = self.create_cycle(state="open")
        cycle.action_close()
        [expired] = self.deliveries(endpoint)
        self.assertEqual(expired.state, "expired")
        endpoint.with_user(self.developer).action_disable()
        self.opened_type.expire_when_stale = False
        with Receiver() as receiver:
            endpoint.with_user(self.developer).url = receiver.url
            notice = endpoint.with_user(self.developer).action_enable_and_resend()
            self.run_jobs()
        self.assertIn("1 events queued again", notice["params"]["message"])
        self.assertEqual(expired.state, "done")
        self.assertEqual(
            [request["headers"]["webhook-id"] for request in receiver.requests],
            [expired.event_id.public_id],
        )
