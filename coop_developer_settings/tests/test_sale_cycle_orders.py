# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo.tests import new_test_user, tagged

from .common import SaleCycleCase


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
