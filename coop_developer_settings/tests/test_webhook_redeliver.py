# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Manual sends: Redeliver, the resend of the events since a date, Enable and
resend what failed, the test event; bounded per request, rate limited, and
big replays queued behind the live events."""

import time
from datetime import timedelta

from freezegun import freeze_time
from standardwebhooks.webhooks import Webhook

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.queue_job.jobrunner.channels import ChannelManager

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


@tagged("post_install", "-at_install")
class TestReplays(WebhookCase):
    """Manual re-sends (Redeliver, the resends) are bounded per request,
    and never delay the other users' live events."""

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_manual_send_interval", "0"
        )

    def failed_deliveries(self, endpoint, count):
        event = self.env["coop.webhook.event"].create(
            {
                "event_type_id": self.opened_type.id,
                "company_id": self.company.id,
                "data": {"id": 1},
            }
        )
        return self.env["coop.webhook.delivery"].create(
            [
                {
                    "event_id": event.id,
                    "endpoint_id": endpoint.id,
                    "user_id": endpoint.user_id.id,
                    "company_id": self.company.id,
                    "event_type": "sale_cycle.opened",
                    "state": "failed",
                }
                for _index in range(count)
            ]
        )

    def test_a_big_redeliver_is_refused_with_its_count(self):
        endpoint = self.endpoint("https://hooks.example.org/a")
        deliveries = self.failed_deliveries(endpoint, 1001)
        with self.assertRaisesRegex(UserError, "1001 deliveries .* at most 1000"):
            deliveries.with_user(self.developer).action_redeliver()
        with self.assertRaisesRegex(UserError, "1001 deliveries .* at most 1000"):
            endpoint.with_user(self.developer).action_redeliver_failed()
        self.assertFalse(self.pending_jobs(), "nothing queued")
        self.assertEqual(set(deliveries.mapped("state")), {"failed"})
        deliveries[:1000].with_user(self.developer).action_redeliver()
        self.assertEqual(len(self.pending_jobs()), 5, "1000 in jobs of 200")

    def jobs_in_the_runners_order(self, channels):
        """The pending jobs queue_job's runner starts first with these
        channels, as it reads them from the database."""
        manager = ChannelManager()
        manager.simple_configure(channels)
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT channel, uuid, id, date_created, priority, "
            "EXTRACT(EPOCH FROM eta), state FROM queue_job WHERE state = 'pending'"
        )
        for row in self.env.cr.fetchall():
            manager.notify(self.env.cr.dbname, *row)
        return [job.uuid for job in manager.get_jobs_to_run(time.time())]

    def test_live_events_go_before_a_big_replay(self):
        endpoint = self.endpoint("https://hooks.example.org/a")
        replayed = self.failed_deliveries(endpoint, 450)
        replayed.with_user(self.developer).action_redeliver()
        replays = self.pending_jobs()
        self.assertEqual(len(replays), 3)
        self.assertEqual(set(replays.mapped("channel")), {"root.webhook.replay"})
        self.assertEqual(set(replays.mapped("priority")), {30})
        self.assertEqual(set(replayed.mapped("is_replay")), {True})
        # Another user's event, after the replay.
        other = new_developer(self.env, "coop-replay-other", self.company)
        live_endpoint = self.endpoint("https://hooks.example.org/b", user=other)
        self.create_cycle(state="open")
        [live] = self.pending_jobs() - replays
        self.assertEqual(self.deliveries(live_endpoint).job_uuid, live.uuid)
        self.assertEqual((live.channel, live.priority), ("root.webhook", 10))
        # One slot for deliveries: the live job is started first.
        self.assertEqual(
            self.jobs_in_the_runners_order("root:1,root.webhook:1"), [live.uuid]
        )
        # Two slots, one for replays: never both taken by replays.
        started = self.jobs_in_the_runners_order(
            "root:2,root.webhook:2,root.webhook.replay:1"
        )
        self.assertEqual(len(started), 2)
        self.assertIn(live.uuid, started)

    def test_the_retries_of_a_replay_stay_replays(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_retry_schedule", "0,0"
        )
        endpoint = self.endpoint("http://127.0.0.1:9/hook")  # nobody listens
        [delivery] = self.failed_deliveries(endpoint, 1)
        delivery.with_user(self.developer).action_redeliver()
        self.run_jobs(rounds=1)
        self.assertEqual(delivery.state, "retrying")
        [retry] = self.pending_jobs()
        self.assertEqual(
            (retry.uuid, retry.channel, retry.priority),
            (delivery.job_uuid, "root.webhook.replay", 30),
        )


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
