# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from freezegun import freeze_time

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import T0, SaleCycleCase

ACTIONS = (
    "action_schedule",
    "action_open",
    "action_close",
    "action_cancel",
    "action_reset_to_draft",
)
# The only legal moves: (state, action) -> new state.
LEGAL = {
    ("draft", "action_schedule"): "scheduled",
    ("draft", "action_open"): "open",
    ("scheduled", "action_open"): "open",
    ("open", "action_close"): "closed",
    ("draft", "action_cancel"): "cancelled",
    ("scheduled", "action_cancel"): "cancelled",
    ("open", "action_cancel"): "cancelled",
    ("scheduled", "action_reset_to_draft"): "draft",
    ("cancelled", "action_reset_to_draft"): "draft",
}
STATES = ("draft", "scheduled", "open", "closed", "cancelled")


@tagged("post_install", "-at_install")
class TestSaleCycleTransitions(SaleCycleCase):
    def test_every_legal_transition(self):
        for (state, action), new_state in LEGAL.items():
            with self.subTest(state=state, action=action):
                cycle = self.create_cycle(state=state)
                getattr(cycle, action)()
                self.assertEqual(cycle.state, new_state)

    def test_every_illegal_transition_is_refused(self):
        for state in STATES:
            for action in ACTIONS:
                if (state, action) in LEGAL:
                    continue
                with self.subTest(state=state, action=action):
                    cycle = self.create_cycle(state=state)
                    opened = len(self.events(cycle, "sale_cycle.opened"))
                    closed = len(self.events(cycle, "sale_cycle.closed"))
                    with self.assertRaises(UserError) as caught:
                        getattr(cycle, action)()
                    self.assertIn(cycle.name, str(caught.exception))
                    self.assertEqual(cycle.state, state)
                    self.assertEqual(
                        len(self.events(cycle, "sale_cycle.opened")), opened
                    )
                    self.assertEqual(
                        len(self.events(cycle, "sale_cycle.closed")), closed
                    )

    def test_closing_a_draft_says_why(self):
        cycle = self.create_cycle(name="Spring")
        with self.assertRaisesRegex(
            UserError, "Sale cycle Spring is Draft: only an open cycle can be closed"
        ):
            cycle.action_close()

    def test_open_and_close_emit_one_event_each_and_record_when(self):
        cycle = self.create_cycle(state="scheduled")
        with freeze_time(T0):
            cycle.action_open()
        self.assertEqual(cycle.opened_at, T0)
        self.assertEqual(len(self.events(cycle, "sale_cycle.opened")), 1)
        self.assertFalse(self.events(cycle, "sale_cycle.closed"))
        with freeze_time(T0.replace(hour=20)):
            cycle.action_close()
        self.assertEqual(cycle.closed_at, T0.replace(hour=20))
        self.assertEqual(len(self.events(cycle, "sale_cycle.opened")), 1)
        self.assertEqual(len(self.events(cycle, "sale_cycle.closed")), 1)

    def test_reset_to_draft_forgets_the_transition_dates(self):
        cycle = self.create_cycle(state="open")
        cycle.action_cancel()
        cycle.action_reset_to_draft()
        self.assertFalse(cycle.opened_at)
        cycle.action_open()
        self.assertEqual(len(self.events(cycle, "sale_cycle.opened")), 2)

    def test_transitions_work_on_several_cycles(self):
        cycles = self.create_cycle(state="scheduled") | self.create_cycle(
            state="scheduled"
        )
        cycles.action_open()
        self.assertEqual(set(cycles.mapped("state")), {"open"})
        for cycle in cycles:
            self.assertEqual(len(self.events(cycle, "sale_cycle.opened")), 1)

    def test_close_must_be_after_open(self):
        count = self.Cycle.search_count([])
        for hours in (0, -1):
            with self.subTest(lasts_hours=hours), self.assertRaises(ValidationError):
                self.create_cycle(lasts_hours=hours)
        self.assertEqual(self.Cycle.search_count([]), count, "no half-written cycle")
        cycle = self.create_cycle()
        with self.assertRaises(ValidationError):
            cycle.date_close = cycle.date_open

    def test_shop_url_must_be_a_web_link(self):
        with self.assertRaises(ValidationError):
            self.create_cycle(shop_url="javascript:alert(1)")
        cycle = self.create_cycle(shop_url="https://shop.example.org/shop")
        self.assertEqual(cycle.shop_url, "https://shop.example.org/shop")

    def test_a_user_without_an_email_opens_and_closes(self):
        """message_post refuses an author without an email: the transitions
        still happen, their messages authored by that user."""
        manager = self.env["res.users"].create(
            {
                "name": "No email manager",
                "login": "coop-no-email",
                "email": False,
                "groups_id": [
                    (6, 0, [self.env.ref("sales_team.group_sale_manager").id])
                ],
                "company_id": self.company.id,
                "company_ids": [(6, 0, self.company.ids)],
            }
        )
        self.assertFalse(manager.partner_id.email)
        cycle = self.create_cycle().with_user(manager)
        for action, state in (
            ("action_schedule", "scheduled"),
            ("action_open", "open"),
            ("action_close", "closed"),
        ):
            getattr(cycle, action)()
            self.assertEqual(cycle.state, state)
        self.assertEqual(len(self.events(cycle, "sale_cycle.closed")), 1)
        self.assertEqual(
            self.events(cycle, "sale_cycle.opened").author_id, manager.partner_id
        )
