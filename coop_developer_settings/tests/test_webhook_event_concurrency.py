# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import time
from datetime import timedelta

import psycopg2

from odoo import fields, sql_db
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import RealTransactionsMixin
from .receiver import Receiver

PARAMS = {
    "coop_developer_settings.allowed_private_networks": "127.0.0.0/8",
    "coop_developer_settings.webhook_allow_http": "1",
}


class CommittedWebhookCase(RealTransactionsMixin, TransactionCase):
    """An endpoint and a sale cycle committed for real workers, removed at
    the end with everything they caused (events, deliveries, jobs)."""

    def setUp(self):
        super().setUp()
        self.db = sql_db.db_connect(self.env.cr.dbname)
        self.addCleanup(self.remove_records)
        self.cycle_id = self.endpoint_id = None
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            # The jobs the workers queue are removed too: later tests run
            # whatever job is pending.
            self.last_job_id = (
                env["queue.job"].search([], order="id desc", limit=1).id or 0
            )
            params = env["ir.config_parameter"]
            self.saved_params = {key: params.get_param(key) for key in PARAMS}
            for key, value in PARAMS.items():
                params.set_param(key, value)

    def create_records(self, event_xmlid, url, state, opens_in, closes_in):
        """The cycle (brought to state), then the endpoint, committed."""
        now = fields.Datetime.now()
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            cycle = env["coop.sale.cycle"].create(
                {
                    "name": "Raced",
                    "date_open": now + opens_in,
                    "date_close": now + closes_in,
                }
            )
            cycle.action_schedule()
            if state == "open":
                cycle.action_open()
            endpoint = env["coop.webhook.endpoint"].create(
                {
                    "user_id": env.ref("base.user_admin").id,
                    "event_type_id": env.ref(event_xmlid).id,
                    "url": url,
                }
            )
            self.cycle_id, self.endpoint_id = cycle.id, endpoint.id

    def remove_records(self):
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            cycle = env["coop.sale.cycle"].browse(self.cycle_id).exists()
            events = env["coop.webhook.event"].search(
                [("res_model", "=", cycle._name), ("res_id", "=", self.cycle_id)]
            )
            env["queue.job"].search([("id", ">", self.last_job_id)]).unlink()
            events.unlink()
            env["coop.webhook.endpoint"].browse(self.endpoint_id).exists().unlink()
            env["mail.message"].search(
                [("model", "=", cycle._name), ("res_id", "=", self.cycle_id)]
            ).unlink()
            cycle.unlink()
            params = env["ir.config_parameter"]
            for key, value in self.saved_params.items():
                params.set_param(key, value or False)

    def committed(self, query):
        """query(env) on a fresh cursor: what the workers committed."""
        with self.db.cursor() as cr:
            return query(self.env_of(cr))


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
