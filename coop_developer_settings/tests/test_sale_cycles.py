# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Sale cycles: their transitions, the cron that opens and closes them, the
orders they gather, the demo data, two transitions at once, and who reads
or moves them."""

from datetime import timedelta
from xmlrpc.client import Fault

import psycopg2
from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import (
    T0,
    RealTransactionsMixin,
    SaleCycleCase,
    XmlrpcAssertionsMixin,
    create_shops_with_cycles,
)

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


@tagged("post_install", "-at_install")
class TestSaleCycleOrders(SaleCycleCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product = cls.env["product.product"].create(
            {"name": "Vegetable basket", "list_price": 15.0, "taxes_id": False}
        )
        cls.buyer_a, cls.buyer_b = cls.env["res.partner"].create(
            [{"name": "Buyer A"}, {"name": "Buyer B"}]
        )
        cls.other_company = cls.env["res.company"].create({"name": "Other shop"})

    def quotation(self, partner, quantity=1, company=None, **vals):
        return self.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "company_id": (company or self.company).id,
                "order_line": [
                    (0, 0, {"product_id": self.product.id, "product_uom_qty": quantity})
                ],
                **vals,
            }
        )

    def test_confirmed_order_joins_the_open_cycle_of_its_company(self):
        self.create_cycle(company_id=self.other_company.id, state="open")
        cycle = self.create_cycle(state="open")
        order = self.quotation(self.buyer_a)
        self.assertFalse(order.sale_cycle_id, "a quotation is not attached yet")
        order.action_confirm()
        self.assertEqual(order.sale_cycle_id, cycle)

    def test_no_open_cycle_no_attachment(self):
        self.create_cycle(state="scheduled")
        order = self.quotation(self.buyer_a)
        order.action_confirm()
        self.assertFalse(order.sale_cycle_id)

    def test_a_chosen_cycle_is_kept(self):
        self.create_cycle(state="open")
        past = self.create_cycle(state="closed")
        order = self.quotation(self.buyer_a, sale_cycle_id=past.id)
        order.action_confirm()
        self.assertEqual(order.sale_cycle_id, past)

    def test_counts_and_total(self):
        cycle = self.create_cycle(state="open")
        orders = (
            self.quotation(self.buyer_a, 1)
            | self.quotation(self.buyer_a, 2)
            | self.quotation(self.buyer_b, 4)
        )
        orders.action_confirm()
        self.quotation(self.buyer_b, 10, sale_cycle_id=cycle.id)  # not confirmed
        cancelled = self.quotation(self.buyer_b, 20)
        cancelled.action_confirm()
        cancelled._action_cancel()
        cycle.invalidate_recordset()
        self.assertEqual(cycle.order_count, 3)
        self.assertEqual(cycle.buyer_count, 2)
        self.assertAlmostEqual(cycle.amount_total, 7 * 15.0)
        self.assertEqual(cycle.currency_id, self.company.currency_id)

        orders_action = cycle.action_view_orders()
        self.assertEqual(
            self.env["sale.order"].search(orders_action["domain"]),
            orders | cancelled | cycle.order_ids.filtered(lambda o: o.state == "draft"),
        )
        buyers_action = cycle.action_view_buyers()
        self.assertEqual(
            self.env["res.partner"].search(buyers_action["domain"]),
            self.buyer_a | self.buyer_b,
        )

    def test_salesman_sets_the_cycle_and_reads_the_figures(self):
        salesman = new_test_user(
            self.env,
            login="coop-salesman",
            groups="sales_team.group_sale_salesman",
            company_id=self.company.id,
            company_ids=[(6, 0, self.company.ids)],
        )
        cycle = self.create_cycle(state="open")
        other = self.create_cycle(state="closed")
        order = self.quotation(self.buyer_a, user_id=salesman.id)
        order.with_user(salesman).action_confirm()
        self.assertEqual(order.sale_cycle_id, cycle)
        order.with_user(salesman).sale_cycle_id = other
        self.assertEqual(order.sale_cycle_id, other)
        # Another salesman's orders count too.
        self.quotation(self.buyer_b).action_confirm()
        self.assertEqual(cycle.with_user(salesman).order_count, 1)
        self.assertEqual(other.with_user(salesman).buyer_count, 1)


@tagged("post_install", "-at_install")
class TestSaleCycleDemo(SaleCycleCase):
    """What `make run` shows: a past, an open and a scheduled cycle."""

    def test_demo_cycles_and_their_orders(self):
        past, current, upcoming = (
            self.env.ref(f"coop_developer_settings.coop_sale_cycle_{name}")
            for name in ("past", "current", "next")
        )
        self.assertEqual(
            (past.state, current.state, upcoming.state), ("closed", "open", "scheduled")
        )
        self.assertEqual((past.order_count, past.buyer_count), (3, 3))
        # Confirmed by the demo data itself: attached to the open cycle.
        self.assertEqual((current.order_count, current.buyer_count), (3, 2))
        self.assertGreater(current.amount_total, 0)
        self.assertEqual(upcoming.order_count, 0)


@tagged("post_install", "-at_install")
class TestSaleCycleConcurrency(RealTransactionsMixin, TransactionCase):
    """Two workers (two cron runs, or a user and the cron) open one cycle.

    They run in two real transactions, so the cycle is committed first and
    removed at the end.
    """

    def setUp(self):
        super().setUp()
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


@tagged("post_install", "-at_install")
class TestSaleCycleAccess(XmlrpcAssertionsMixin, HttpCase):
    """Access rules, checked over XML-RPC as an outside client would."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        (cls.company_a, cls.company_b), (cls.cycle_a, cls.cycle_b) = (
            create_shops_with_cycles(
                cls.env, ("Shop A", "Cycle A"), ("Shop B", "Cycle B")
            )
        )
        cls.salesman_a = cls._user("salesman-a", "sales_team.group_sale_salesman")
        cls.manager_a = cls._user("manager-a", "sales_team.group_sale_manager")

    @classmethod
    def _user(cls, login, groups):
        return new_test_user(
            cls.env,
            login=login,
            groups=groups,
            company_id=cls.company_a.id,
            company_ids=[(6, 0, cls.company_a.ids)],
        )

    def test_salesman_reads_only_the_cycles_of_their_company(self):
        found = self.xmlrpc_as(
            "salesman-a",
            "coop.sale.cycle",
            "search_read",
            [("id", "in", (self.cycle_a | self.cycle_b).ids)],
            fields=["name"],
        )
        self.assertEqual([row["name"] for row in found], ["Cycle A"])
        with self.assertAccessDenied():
            self.xmlrpc_as(
                "salesman-a", "coop.sale.cycle", "read", self.cycle_b.ids, ["name"]
            )

    def test_salesman_cannot_change_cycles(self):
        with self.assertAccessDenied():
            self.xmlrpc_as(
                "salesman-a", "coop.sale.cycle", "action_schedule", self.cycle_a.ids
            )
        with self.assertAccessDenied():
            self.xmlrpc_as(
                "salesman-a",
                "coop.sale.cycle",
                "write",
                self.cycle_a.ids,
                {"name": "x"},
            )
        self.cycle_a.invalidate_recordset()
        self.assertEqual((self.cycle_a.state, self.cycle_a.name), ("draft", "Cycle A"))

    def test_manager_moves_cycles_of_their_company_over_xmlrpc(self):
        self.xmlrpc_as(
            "manager-a", "coop.sale.cycle", "action_schedule", self.cycle_a.ids
        )
        with (
            self.assertRaisesRegex(Fault, "only an open cycle can be closed"),
            mute_logger("odoo.http"),
        ):
            self.xmlrpc_as(
                "manager-a", "coop.sale.cycle", "action_close", self.cycle_a.ids
            )
        self.xmlrpc_as("manager-a", "coop.sale.cycle", "action_open", self.cycle_a.ids)
        self.cycle_a.invalidate_recordset()
        self.assertEqual(self.cycle_a.state, "open")
        with self.assertAccessDenied():
            self.xmlrpc_as(
                "manager-a", "coop.sale.cycle", "action_open", self.cycle_b.ids
            )
        self.cycle_b.invalidate_recordset()
        self.assertEqual(self.cycle_b.state, "draft")
