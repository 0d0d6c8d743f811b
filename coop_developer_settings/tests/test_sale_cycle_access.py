# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from xmlrpc.client import Fault

from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import XmlrpcAssertionsMixin, create_shops_with_cycles


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

    def call(self, login, model, method, *args, **kwargs):
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, login, login, {})
        self.assertTrue(uid, f"{login} could not log in")
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, uid, login, model, method, list(args), kwargs
        )

    def test_salesman_reads_only_the_cycles_of_their_company(self):
        found = self.call(
            "salesman-a",
            "coop.sale.cycle",
            "search_read",
            [("id", "in", (self.cycle_a | self.cycle_b).ids)],
            fields=["name"],
        )
        self.assertEqual([row["name"] for row in found], ["Cycle A"])
        with self.assertAccessDenied():
            self.call(
                "salesman-a", "coop.sale.cycle", "read", self.cycle_b.ids, ["name"]
            )

    def test_salesman_cannot_change_cycles(self):
        with self.assertAccessDenied():
            self.call(
                "salesman-a", "coop.sale.cycle", "action_schedule", self.cycle_a.ids
            )
        with self.assertAccessDenied():
            self.call(
                "salesman-a",
                "coop.sale.cycle",
                "write",
                self.cycle_a.ids,
                {"name": "x"},
            )
        self.cycle_a.invalidate_recordset()
        self.assertEqual((self.cycle_a.state, self.cycle_a.name), ("draft", "Cycle A"))

    def test_manager_moves_cycles_of_their_company_over_xmlrpc(self):
        self.call("manager-a", "coop.sale.cycle", "action_schedule", self.cycle_a.ids)
        with (
            self.assertRaisesRegex(Fault, "only an open cycle can be closed"),
            mute_logger("odoo.http"),
        ):
            self.call("manager-a", "coop.sale.cycle", "action_close", self.cycle_a.ids)
        self.call("manager-a", "coop.sale.cycle", "action_open", self.cycle_a.ids)
        self.cycle_a.invalidate_recordset()
        self.assertEqual(self.cycle_a.state, "open")
        with self.assertAccessDenied():
            self.call("manager-a", "coop.sale.cycle", "action_open", self.cycle_b.ids)
        self.cycle_b.invalidate_recordset()
        self.assertEqual(self.cycle_b.state, "draft")
