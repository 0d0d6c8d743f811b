# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import timedelta

import psycopg2

from odoo import fields, sql_db
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import RealTransactionsMixin


@tagged("post_install", "-at_install")
class TestSaleCycleConcurrency(RealTransactionsMixin, TransactionCase):
    """Two workers (two cron runs, or a user and the cron) open one cycle.

    They run in two real transactions, so the cycle is committed first and
    removed at the end.
    """

    def setUp(self):
        super().setUp()
        self.db = sql_db.db_connect(self.env.cr.dbname)
        now = fields.Datetime.now()
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            cycle = env["coop.sale.cycle"].create(
                {
                    "name": "Raced cycle",
                    "date_open": now - timedelta(minutes=5),
                    "date_close": now + timedelta(days=1),
                }
            )
            cycle.action_schedule()
            self.cycle_id = cycle.id
        self.addCleanup(self.remove_cycle)

    def remove_cycle(self):
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            cycle = env["coop.sale.cycle"].browse(self.cycle_id)
            env["mail.message"].search(
                [("model", "=", cycle._name), ("res_id", "=", cycle.id)]
            ).unlink()
            cycle.unlink()

    def race(self, *workers):
        return super().race(
            "coop.sale.cycle",
            self.cycle_id,
            *workers,
            refused=(UserError, psycopg2.errors.SerializationFailure),
        )

    def opened_events(self):
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            subtype = env.ref("coop_developer_settings.mt_sale_cycle_opened")
            return env["mail.message"].search_count(
                [
                    ("model", "=", "coop.sale.cycle"),
                    ("res_id", "=", self.cycle_id),
                    ("subtype_id", "=", subtype.id),
                ]
            )

    @mute_logger("odoo.sql_db")  # the loser's refused lock is logged as an error
    def test_a_user_and_the_cron_open_at_once(self):
        outcomes = self.race(
            lambda cycle: cycle.action_open(),
            lambda cycle: cycle.env["coop.sale.cycle"]._cron_process_due_cycles(),
        )
        self.assertEqual(len(outcomes), 2, outcomes)
        self.assertEqual(self.opened_events(), 1, outcomes)

    @mute_logger("odoo.sql_db")  # the loser's refused lock is logged as an error
    def test_two_users_open_at_once(self):
        outcomes = self.race(
            lambda cycle: cycle.action_open(), lambda cycle: cycle.action_open()
        )
        self.assertEqual(sorted(outcomes)[0], "SerializationFailure", outcomes)
        self.assertEqual(outcomes.count("done"), 1, outcomes)
        self.assertEqual(self.opened_events(), 1)

    # Both workers mute the lock error in the same process (threads): the
    # first to finish would unmute the second one's.
    @mute_logger("odoo.sql_db")
    def test_two_cron_workers_open_at_once(self):
        outcomes = self.race(
            lambda cycle: cycle.env["coop.sale.cycle"]._cron_process_due_cycles(),
            lambda cycle: cycle.env["coop.sale.cycle"]._cron_process_due_cycles(),
        )
        self.assertEqual(outcomes, ["done", "done"], "the cron never fails on a race")
        self.assertEqual(self.opened_events(), 1)
