# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The reminders (opening soon, closing soon): once per endpoint's lead time,
rearmed when a date moves, caught up after an outage, and sent exactly once
whoever sends them at the same time."""

import time
from datetime import timedelta

import psycopg2
from freezegun import freeze_time
from standardwebhooks.webhooks import Webhook

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import T0, CommittedWebhookCase, WebhookCase, new_developer
from .receiver import Receiver

URL = "https://hooks.example.org/reminders"

HOUR = timedelta(hours=1)


@tagged("post_install", "-at_install")
class TestReminders(WebhookCase):
    """sale_cycle.closing_soon / opening_soon: once per endpoint, cycle and
    date, a lead time before the date, as long as it is still relevant."""

    def cron(self, at):
        with freeze_time(at):
            self.Cycle._cron_process_due_cycles()

    def cycle_at_t0(self, **kwargs):
        with freeze_time(T0):
            return self.create_cycle(**kwargs)

    def reminders(self, endpoint):
        return self.env["coop.webhook.event"].search(
            [("endpoint_id", "=", endpoint.id)], order="id"
        )

    def test_closing_soon_once_at_each_endpoints_lead_time(self):
        cycle = self.cycle_at_t0(opens_in_hours=-1, lasts_hours=72, state="open")
        close = cycle.date_close  # T0 + 71 h
        day = self.endpoint(URL, self.closing_soon_type)
        two_hours = self.endpoint(URL, self.closing_soon_type, lead_time_hours=2)
        self.assertEqual(day.lead_time_hours, 24, "24 hours unless chosen")
        self.cron(close - 25 * HOUR)
        self.assertFalse(self.reminders(day) | self.reminders(two_hours))
        self.cron(close - 24 * HOUR)
        [reminder] = self.reminders(day)
        self.assertFalse(self.reminders(two_hours))
        self.assertEqual(reminder.data["time_left"], 24 * 3600)
        self.assertEqual(reminder.data["time_left_text"], "1 day")
        self.assertEqual(reminder.data["occurred_at"], str(close - 24 * HOUR))
        self.assertEqual(len(self.deliveries(day)), 1)
        for hours in (23, 12, 3):
            self.cron(close - hours * HOUR)
        self.assertEqual(len(self.reminders(day)), 1, "once")
        self.cron(close - 2 * HOUR + timedelta(minutes=1))
        [late_one] = self.reminders(two_hours)
        self.assertEqual(late_one.data["time_left"], 2 * 3600 - 60)
        self.assertEqual(late_one.data["time_left_text"], "2 hours")
        self.cron(close - HOUR)
        self.assertEqual(len(self.reminders(two_hours)), 1)

    def test_the_receiver_gets_a_signed_closing_soon(self):
        self.cycle_at_t0(
            opens_in_hours=-1, lasts_hours=10, state="open", name="Last call"
        )
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url, self.closing_soon_type)
            self.cron(T0)
            self.run_jobs()
        [request] = receiver.requests
        payload = Webhook(endpoint._secret()).verify(
            request["body"], request["headers"]
        )
        self.assertEqual(payload["type"], "sale_cycle.closing_soon")
        self.assertEqual(payload["data"]["name"], "Last call")
        self.assertEqual(payload["data"]["time_left"], 9 * 3600)
        self.assertEqual(
            request["headers"]["webhook-id"], self.reminders(endpoint).public_id
        )

    def test_moving_the_date_rearms_the_reminder_once_per_date(self):
        cycle = self.cycle_at_t0(opens_in_hours=-1, lasts_hours=24, state="open")
        first_close = cycle.date_close
        later_close = first_close + timedelta(days=3)
        endpoint = self.endpoint(URL, self.closing_soon_type)
        self.cron(T0)
        self.assertEqual(len(self.reminders(endpoint)), 1)
        cycle.date_close = later_close
        self.cron(T0 + HOUR)
        self.assertEqual(len(self.reminders(endpoint)), 1, "not yet: 3 days ahead")
        cycle.date_close = first_close
        self.cron(T0 + 2 * HOUR)
        self.assertEqual(len(self.reminders(endpoint)), 1, "sent for that date")
        cycle.date_close = later_close
        self.cron(later_close - 23 * HOUR)
        first, second = self.reminders(endpoint)
        self.assertEqual(first.data["date_close"], str(first_close))
        self.assertEqual(second.data["date_close"], str(later_close))

    def test_after_an_outage_what_is_still_relevant_is_caught_up(self):
        still_open = self.cycle_at_t0(opens_in_hours=-1, lasts_hours=60, state="open")
        closed_meanwhile = self.cycle_at_t0(
            opens_in_hours=-1, lasts_hours=30, state="open"
        )
        endpoint = self.endpoint(URL, self.closing_soon_type)
        # The server is down from T0 to T0 + 48 h: nobody got the reminders.
        self.cron(T0 + 48 * HOUR)
        self.assertEqual(closed_meanwhile.state, "closed")
        [reminder] = self.reminders(endpoint)
        self.assertEqual(reminder.res_id, still_open.id)
        self.assertEqual(reminder.data["time_left"], 11 * 3600)
        self.assertFalse(self.cycle_events(closed_meanwhile, "sale_cycle.closing_soon"))

    def test_never_about_a_closed_or_cancelled_cycle(self):
        closed = self.cycle_at_t0(opens_in_hours=-1, lasts_hours=10, state="open")
        cancelled = self.cycle_at_t0(opens_in_hours=-1, lasts_hours=10, state="open")
        endpoint = self.endpoint(URL, self.closing_soon_type)
        closed.action_close()
        cancelled.action_cancel()
        self.cron(T0)
        self.assertFalse(self.reminders(endpoint))

    def test_opening_soon_of_scheduled_cycles_only(self):
        scheduled = self.cycle_at_t0(opens_in_hours=30, state="scheduled")
        opened_early = self.cycle_at_t0(opens_in_hours=30, state="scheduled")
        draft = self.cycle_at_t0(opens_in_hours=30)
        endpoint = self.endpoint(URL, self.opening_soon_type)
        opened_early.action_open()
        self.cron(T0 + 5 * HOUR)
        self.assertFalse(self.reminders(endpoint))
        self.cron(T0 + 6 * HOUR)
        [reminder] = self.reminders(endpoint)
        self.assertEqual(reminder.res_id, scheduled.id)
        self.assertEqual(reminder.data["time_to_open"], 24 * 3600)
        self.assertFalse(self.cycle_events(draft, "sale_cycle.opening_soon"))

    def test_scheduling_or_opening_within_the_lead_time_sends_at_once(self):
        opening = self.endpoint(URL, self.opening_soon_type)
        closing = self.endpoint(URL, self.closing_soon_type)
        with freeze_time(T0):
            cycle = self.create_cycle(opens_in_hours=3, lasts_hours=5)
            cycle.action_schedule()
            self.assertEqual(len(self.reminders(opening)), 1)
            cycle.action_open()
        [opened] = self.cycle_events(cycle, "sale_cycle.opened")
        [reminder] = self.reminders(closing)
        self.assertLess(opened.id, reminder.id, "opened, then closing soon")
        self.assertEqual(
            self.deliveries(opening).state, "expired", "opening soon, once open"
        )

    def test_only_endpoints_that_may_receive_them(self):
        other_shop = self.env["res.company"].create({"name": "Reminders elsewhere"})
        outsider = new_developer(self.env, "coop-reminders-outsider", other_shop)
        cycle = self.cycle_at_t0(opens_in_hours=-1, lasts_hours=20, state="open")
        theirs = self.endpoint(URL, self.closing_soon_type, user=outsider)
        paused = self.endpoint(URL, self.closing_soon_type)
        paused.with_user(self.developer).action_disable()
        self.cron(T0)
        self.assertFalse(self.reminders(theirs))
        self.assertFalse(self.reminders(paused), "disabled")
        # Enabled again while the cycle is still open: caught up.
        paused.with_user(self.developer).action_enable()
        self.cron(T0 + HOUR)
        [reminder] = self.reminders(paused)
        self.assertEqual(reminder.res_id, cycle.id)

    def test_the_lead_time_is_one_hour_to_seven_days(self):
        Endpoint = self.env["coop.webhook.endpoint"]
        count = Endpoint.search_count([])
        for hours in (0, -1, 169):
            with self.subTest(hours=hours), self.assertRaises(ValidationError):
                self.endpoint(URL, self.closing_soon_type, lead_time_hours=hours)
        self.assertEqual(Endpoint.search_count([]), count)
        endpoint = self.endpoint(URL, self.closing_soon_type, lead_time_hours=168)
        endpoint.with_user(self.developer).lead_time_hours = 1
        self.assertEqual(endpoint.lead_time_hours, 1)


@tagged("post_install", "-at_install")
class TestRemindersExactlyOnce(CommittedWebhookCase):
    """Whoever sends a reminder at the same time (two cron runs: a manual
    one and the scheduled one, or two servers; a user's transition and the
    cron), it is sent once: the database's unique index decides."""

    def race(self, *workers):
        return super().race(
            "coop.sale.cycle",
            self.cycle_id,
            *workers,
            refused=(UserError, psycopg2.errors.SerializationFailure),
        )

    def sent(self):
        def query(env):
            reminders = env["coop.webhook.reminder"].search(
                [("sale_cycle_id", "=", self.cycle_id)]
            )
            events = env["coop.webhook.event"].search(
                [
                    ("res_id", "=", self.cycle_id),
                    ("event_type", "=", "sale_cycle.closing_soon"),
                ]
            )
            return len(reminders), len(events), len(events.delivery_ids)

        return self.committed(query)

    def cycle_closing_soon(self, state):
        """A cycle closing in 2 hours (open, or due to open), then an
        endpoint of closing_soon: its reminder is still to be sent."""
        self.create_records(
            "coop_developer_settings.webhook_event_sale_cycle_closing_soon",
            "https://hooks.example.org/raced",
            state,
            opens_in=-timedelta(minutes=5),
            closes_in=timedelta(hours=2),
        )

    @staticmethod
    def cron(cycle):
        cycle.env["coop.sale.cycle"]._cron_process_due_cycles()

    @mute_logger("odoo.sql_db")  # both threads mute it: see test_sale_cycle_concurrency
    def test_two_crons_at_once(self):
        self.cycle_closing_soon("open")
        outcomes = self.race(self.cron, self.cron)
        self.assertEqual(outcomes, ["done", "done"], "the cron never fails on a race")
        self.assertEqual(self.sent(), (1, 1, 1))

    @mute_logger("odoo.sql_db")
    def test_a_cron_waits_for_the_other_one_then_leaves_the_reminder_to_it(self):
        """The second claim waits on the first one's uncommitted row, then
        finds it taken (it was not in its snapshot)."""
        self.cycle_closing_soon("open")

        def cron_then_hold(cycle):
            self.cron(cycle)
            time.sleep(0.5)

        def cron_a_moment_later(cycle):
            time.sleep(0.2)
            self.cron(cycle)

        outcomes = self.race(cron_then_hold, cron_a_moment_later)
        self.assertEqual(outcomes, ["done", "done"])
        self.assertEqual(self.sent(), (1, 1, 1))

    @mute_logger("odoo.sql_db")
    def test_a_user_opens_while_the_cron_runs(self):
        self.cycle_closing_soon("scheduled")
        outcomes = self.race(lambda cycle: cycle.action_open(), self.cron)
        self.assertEqual(len(outcomes), 2, outcomes)
        self.assertEqual(self.sent(), (1, 1, 1))
        opened = self.committed(
            lambda env: env["coop.webhook.event"].search_count(
                [
                    ("res_id", "=", self.cycle_id),
                    ("event_type", "=", "sale_cycle.opened"),
                ]
            )
        )
        self.assertEqual(opened, 1)
