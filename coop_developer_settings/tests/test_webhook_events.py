# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Webhook events: recorded once, their payloads and who reads them, and the
stale ones (an "opened" or a reminder on its way when the cycle closes)
expired instead of sent."""

import json
import time
from datetime import timedelta

from freezegun import freeze_time
from standardwebhooks.webhooks import Webhook

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import T0, CommittedWebhookCase, WebhookCase, new_developer
from .receiver import Receiver


@tagged("post_install", "-at_install")
class TestEventLog(WebhookCase):
    """Each event is recorded once; every delivery sends the event's bytes."""

    def test_each_event_is_recorded_once_even_without_subscribers(self):
        cycle = self.create_cycle(state="scheduled")
        with freeze_time(T0):
            cycle.action_open()
        [opened] = self.cycle_events(cycle, "sale_cycle.opened")
        self.assertFalse(opened.delivery_ids, "nobody subscribed")
        self.assertEqual(
            (opened.company_id, opened.occurred_at, opened.endpoint_id),
            (self.company, T0, self.env["coop.webhook.endpoint"]),
        )
        self.assertRegex(opened.public_id, r"^evt_[0-9a-f]{32}$")
        self.assertEqual(opened.data["id"], cycle.id)
        cycle.action_close()
        self.assertEqual(len(self.cycle_events(cycle, "sale_cycle.closed")), 1)
        self.assertEqual(len(self.cycle_events(cycle, "sale_cycle.opened")), 1)

    def test_every_delivery_of_an_event_carries_its_id_and_its_bytes(self):
        """Two endpoints, one of them retried: one id, one body, four times."""
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_retry_schedule", "1,1"
        )
        colleague = new_developer(self.env, "coop-events-colleague", self.company)
        cycle = self.create_cycle(state="scheduled")
        with (
            Receiver() as steady,
            Receiver((500, {}, 0), (503, {}, 0), (200, {}, 0)) as flaky,
        ):
            mine = self.endpoint(steady.url)
            theirs = self.endpoint(flaky.url, user=colleague)
            cycle.action_open()
            self.run_jobs()
        [event] = self.cycle_events(cycle, "sale_cycle.opened")
        self.assertEqual(
            (self.deliveries(mine) | self.deliveries(theirs)).event_id, event
        )
        requests = steady.requests + flaky.requests
        self.assertEqual(len(requests), 4)
        self.assertEqual(
            {request["headers"]["webhook-id"] for request in requests},
            {event.public_id},
        )
        self.assertEqual(
            {request["body"] for request in requests}, {event.body.encode()}
        )
        for endpoint, request in (
            (mine, steady.requests[0]),
            (theirs, flaky.requests[-1]),
        ):
            payload = Webhook(endpoint._secret()).verify(
                request["body"], request["headers"]
            )
            self.assertEqual(payload["id"], event.public_id)
            self.assertEqual(payload["timestamp"], f"{event.occurred_at.isoformat()}Z")

    def test_the_body_is_the_same_read_from_the_cache_or_the_database(self):
        cycle = self.create_cycle(state="open", description="<p>Eggs</p>")
        [event] = self.cycle_events(cycle, "sale_cycle.opened")
        in_memory = event._body()
        event.invalidate_recordset()
        self.assertEqual(event._body(), in_memory, "jsonb reorders keys: not the body")
        self.assertEqual(json.loads(in_memory)["data"], event.data)

    def test_the_payload_carries_what_a_newsletter_needs(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.company.partner_id.write({"tz": "Europe/Paris", "lang": "fr_FR"})
        cycle = self.create_cycle(
            state="scheduled",
            name="Semaine 10",
            shop_url="https://shop.example.org/shop",
            description="<p>Légumes &amp; <b>fromage</b> de la vallée</p>",
        )
        with freeze_time(T0):
            cycle.action_open()
        data = self.cycle_events(cycle, "sale_cycle.opened").data
        self.assertEqual(
            data,
            {
                "id": cycle.id,
                "name": "Semaine 10",
                "state": "open",
                "description_html": "<p>Légumes &amp; <b>fromage</b> de la vallée</p>",
                "description_text": "Légumes & *fromage* de la vallée",
                "date_open": "2026-03-03 08:00:00",
                "date_close": "2026-03-05 08:00:00",
                "timezone": "Europe/Paris",
                "date_open_local": "2026-03-03T09:00:00+01:00",
                "date_close_local": "2026-03-05T09:00:00+01:00",
                "opened_at": "2026-03-02 08:00:00",
                "closed_at": None,
                "shop_url": "https://shop.example.org/shop",
                "company": {"id": self.company.id, "name": self.company.name},
                "occurred_at": "2026-03-02 08:00:00",
            },
        )

    def test_without_a_timezone_the_shop_is_in_utc(self):
        self.company.partner_id.tz = False
        cycle = self.create_cycle(state="open", description="<p><br></p>")
        data = self.cycle_events(cycle, "sale_cycle.opened").data
        self.assertEqual(data["timezone"], "UTC")
        self.assertEqual(data["date_close_local"], "2026-03-05T08:00:00+00:00")
        self.assertIsNone(data["description_html"], "an empty description is null")
        self.assertIsNone(data["description_text"])

    def test_a_closed_sample_for_an_owner_without_sales_rights(self):
        """The sale figures are the sales team's fields; a test event of a
        closed endpoint is built for any owner, from a made-up cycle too."""
        shop = self.env["res.company"].create({"name": "Shop without cycles"})
        developer = new_developer(self.env, "coop-no-sales-rights", shop)
        closed = self.env.ref("coop_developer_settings.webhook_event_sale_cycle_closed")
        endpoint = (
            self.env["coop.webhook.endpoint"]
            .with_user(developer)
            .create(
                {"event_type_id": closed.id, "url": "https://hooks.example.org/closed"}
            )
        )
        data = endpoint._send_test_event().sudo().event_id.data
        self.assertEqual(
            (data["id"], data["order_count"], data["sample_of"]),
            (0, 0, "sale_cycle.closed"),
        )


@tagged("post_install", "-at_install")
class TestEventAccess(WebhookCase):
    """Developers read the events of their shops, and their own endpoints'
    reminders and tests; never another shop's or another user's."""

    def test_who_reads_which_event(self):
        other_shop = self.env["res.company"].create({"name": "Events elsewhere"})
        outsider = new_developer(self.env, "coop-events-outsider", other_shop)
        colleague = new_developer(self.env, "coop-events-colleague2", self.company)
        shop_event = self.cycle_events(
            self.create_cycle(state="open"), "sale_cycle.opened"
        )
        endpoint = self.endpoint("https://hooks.example.org/x")
        endpoint.with_user(self.developer).action_send_test_event()
        test_event = self.deliveries(endpoint).event_id
        Event = self.env["coop.webhook.event"]
        both = shop_event | test_event
        self.assertEqual(
            Event.with_user(self.developer).search([("id", "in", both.ids)]), both
        )
        self.assertEqual(
            Event.with_user(colleague).search([("id", "in", both.ids)]), shop_event
        )
        self.assertFalse(Event.with_user(outsider).search([("id", "in", both.ids)]))
        with self.assertRaises(AccessError):
            test_event.with_user(colleague).read(["data"])
        with self.assertRaises(AccessError):
            shop_event.with_user(outsider).read(["data"])
        plain = new_test_user(
            self.env, login="coop-events-plain", groups="base.group_user"
        )
        with self.assertRaises(AccessError):
            shop_event.with_user(plain).read(["data"])
        admin = self.env.ref("base.user_admin")
        self.assertEqual(Event.with_user(admin).search([("id", "in", both.ids)]), both)
        # Nobody changes the log, not even an administrator.
        for user in (self.developer, admin):
            with self.assertRaises(AccessError):
                shop_event.with_user(user).write({"data": {"id": 666}})
            with self.assertRaises(AccessError):
                Event.with_user(user).create(
                    {
                        "event_type_id": self.opened_type.id,
                        "company_id": self.company.id,
                    }
                )


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


@tagged("post_install", "-at_install")
class TestClosingWhileAnAttemptIsMade(CommittedWebhookCase):
    """The cycle closes while its "opened" is being sent to a slow receiver:
    the closing does not wait for it, and the retry that follows is never
    sent: the job expires it."""

    def test_the_transition_skips_it_and_the_job_expires_it(self):
        receiver = Receiver((503, {}, 2.0)).__enter__()
        self.addCleanup(receiver.__exit__, None, None, None)
        self.create_records(
            "coop_developer_settings.webhook_event_sale_cycle_opened",
            receiver.url,
            "scheduled",
            opens_in=-timedelta(minutes=5),
            closes_in=timedelta(days=1),
        )
        with self.db.cursor() as cr:
            self.env_of(cr)["coop.sale.cycle"].browse(self.cycle_id).action_open()
        delivery_id = self.committed(
            lambda env: env["coop.webhook.delivery"]
            .search([("endpoint_id", "=", self.endpoint_id)])
            .id
        )
        closing_took = []

        def send(cycle):
            cycle.env["coop.webhook.delivery"].browse(delivery_id)._deliver_job()

        def close_a_moment_later(cycle):
            time.sleep(0.3)  # the attempt is under way by then
            start = time.monotonic()
            cycle.action_close()
            closing_took.append(time.monotonic() - start)

        outcomes = self.race(
            "coop.sale.cycle", self.cycle_id, send, close_a_moment_later
        )
        self.assertEqual(sorted(outcomes), ["done", "done"])
        self.assertLess(
            closing_took[0], 1.5, "the closing did not wait for the receiver"
        )

        def retry_job(env):
            delivery = env["coop.webhook.delivery"].browse(delivery_id)
            self.assertEqual(delivery.state, "retrying")
            delivery._deliver_job()
            return delivery.state, delivery.last_error

        self.assertEqual(
            self.committed(retry_job),
            ("expired", "The sale cycle closed before it was sent."),
        )
        self.assertEqual(len(receiver.requests), 1)
