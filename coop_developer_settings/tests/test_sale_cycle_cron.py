# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import timedelta

from freezegun import freeze_time

from odoo.tests import tagged

from .common import T0, SaleCycleCase


@tagged("post_install", "-at_install")
class TestSaleCycleCron(SaleCycleCase):
    def run_cron(self, at):
        with freeze_time(at):
            self.Cycle._cron_process_due_cycles()

    def test_cron_is_configured_every_minute(self):
        cron = self.env.ref("coop_developer_settings.ir_cron_process_due_sale_cycles")
        self.assertTrue(cron.active)
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "minutes"))
        self.assertEqual(cron.code.strip(), "model._cron_process_due_cycles()")

    def test_opens_and_closes_what_is_due_and_nothing_else(self):
        due = self.create_cycle(opens_in_hours=-1, state="scheduled")
        not_yet = self.create_cycle(opens_in_hours=1, state="scheduled")
        draft = self.create_cycle(opens_in_hours=-1)
        self.run_cron(T0)
        self.assertEqual(due.state, "open")
        self.assertEqual(due.opened_at, T0)
        self.assertEqual(not_yet.state, "scheduled")
        self.assertEqual(
            draft.state, "draft", "only scheduled cycles open by themselves"
        )
        self.run_cron(T0 + timedelta(hours=1))
        self.assertEqual(not_yet.state, "open")
        self.run_cron(due.date_close)
        self.assertEqual(due.state, "closed")
        self.assertEqual(due.closed_at, due.date_close)

    def test_catches_up_after_a_long_outage(self):
        """The server was down for 10 hours; nothing that fell due is lost.

        Elsewhere only the last hour was looked at, so late cycles never opened.
        """
        both_passed = self.create_cycle(
            opens_in_hours=1, lasts_hours=2, state="scheduled"
        )
        opened_late = self.create_cycle(
            opens_in_hours=2, lasts_hours=24, state="scheduled"
        )
        closed_late = self.create_cycle(opens_in_hours=-48, lasts_hours=50)
        closed_late.action_open()
        self.run_cron(T0 + timedelta(hours=10))

        self.assertEqual(both_passed.state, "closed")
        opened = self.events(both_passed, "sale_cycle.opened")
        closed = self.events(both_passed, "sale_cycle.closed")
        self.assertEqual((len(opened), len(closed)), (1, 1))
        self.assertLess(opened.id, closed.id, "opened, then closed")
        self.assertEqual(both_passed.opened_at, T0 + timedelta(hours=10))
        self.assertEqual(opened_late.state, "open")
        self.assertEqual(len(self.events(opened_late, "sale_cycle.opened")), 1)
        self.assertEqual(closed_late.state, "closed")
        self.assertEqual(len(self.events(closed_late, "sale_cycle.closed")), 1)

        # The next runs find nothing more to do: no event twice.
        self.run_cron(T0 + timedelta(hours=10, minutes=1))
        self.run_cron(T0 + timedelta(hours=11))
        for cycle in both_passed | opened_late:
            self.assertEqual(len(self.events(cycle, "sale_cycle.opened")), 1)
        for cycle in both_passed | closed_late:
            self.assertEqual(len(self.events(cycle, "sale_cycle.closed")), 1)

    def test_cancelled_cycles_are_left_alone(self):
        cycle = self.create_cycle(opens_in_hours=-5, state="scheduled")
        cycle.action_cancel()
        self.run_cron(T0)
        self.assertEqual(cycle.state, "cancelled")
        self.assertFalse(self.events(cycle, "sale_cycle.opened"))
