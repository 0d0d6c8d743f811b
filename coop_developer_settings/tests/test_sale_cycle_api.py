# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import datetime, timedelta
from urllib.parse import urlencode

from odoo import Command
from odoo.tests import HttpCase, tagged

from ..models.res_users_apikeys import SCOPE_BUYERS, SCOPE_WEBHOOKS
from .common import ApiClientMixin, XmlrpcAssertionsMixin, new_developer

URL = "/coop/api/v1/sale-cycles"
T0 = datetime(2026, 5, 4, 8)


@tagged("post_install", "-at_install")
class TestSaleCycleApi(XmlrpcAssertionsMixin, ApiClientMixin, HttpCase):
    """The cycles of the user's shops, for a tool's "pick a cycle": over
    GET /coop/api/v1/sale-cycles and over RPC, never another company's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shop_a, cls.shop_b, cls.shop_c = cls.env["res.company"].create(
            [{"name": "Cycles shop A"}, {"name": "Cycles shop B"}, {"name": "C"}]
        )
        cls.cycles = cls.env["coop.sale.cycle"].create(
            [
                {
                    "name": f"{shop.name} week {week}",
                    "company_id": shop.id,
                    "date_open": T0 + timedelta(weeks=week),
                    "date_close": T0 + timedelta(weeks=week, days=2),
                }
                for shop in (cls.shop_a, cls.shop_b, cls.shop_c)
                for week in range(3)
            ]
        )
        cls.cycles[1].action_schedule()
        cls.developer = new_developer(cls.env, "coop-cycles-api", cls.shop_a)
        cls.developer.company_ids = [Command.link(cls.shop_b.id)]
        keys = cls.env["res.users.apikeys"].with_user(cls.developer)
        expires = datetime.now() + timedelta(days=1)
        cls.key = keys._generate(SCOPE_BUYERS, "Picker", expires)
        cls.webhooks_key = keys._generate(SCOPE_WEBHOOKS, "Hooks", expires)
        cls.mine = cls.cycles.filtered(lambda c: c.company_id != cls.shop_c)

    def names(self, **params):
        response = self.api("GET", f"{URL}?{urlencode(params)}", self.key)
        self.assertEqual(response.status_code, 200, response.text)
        return [cycle["name"] for cycle in response.json()["data"]]

    def test_only_the_cycles_of_the_users_shops(self):
        mine = [c.name for c in self.mine.sorted("id")]
        listed = [
            name
            for name in self.names(limit=1000)
            if name in self.cycles.mapped("name")
        ]
        self.assertEqual(listed, mine)
        forbidden = self.api("GET", f"{URL}?company_id={self.shop_c.id}", self.key)
        self.assertApiError(forbidden, 403, "company_forbidden")
        # Over XML-RPC (a full-account key): every field, never shop C's.
        full_key = (
            self.env["res.users.apikeys"]
            .with_user(self.developer)
            ._generate(None, "RPC", datetime.now() + timedelta(days=1))
        )
        db = self.env.cr.dbname
        uid = self.xmlrpc_common.authenticate(db, self.developer.login, full_key, {})

        def rpc(method, *args, **kwargs):
            return self.xmlrpc_object.execute_kw(
                db, uid, full_key, "coop.sale.cycle", method, list(args), kwargs
            )

        read = rpc(
            "search_read",
            [("id", "in", self.cycles.ids)],
            context={"allowed_company_ids": self.developer.company_ids.ids},
        )
        self.assertEqual({row["name"] for row in read}, set(self.mine.mapped("name")))
        self.assertNotIn("order_ids", read[0], "the orders are the sales team's")
        for figure in ("order_count", "buyer_count", "amount_total"):
            self.assertNotIn(figure, read[0], "the cycle's sales are the team's")
            with self.assertAccessDenied():
                rpc("read", self.mine[:1].ids, [figure])
        theirs = self.cycles.filtered(lambda c: c.company_id == self.shop_c)[:1]
        with self.assertAccessDenied():
            rpc("read", theirs.ids, ["name"])

    def test_filters(self):
        self.assertEqual(
            self.names(company_id=self.shop_b.id, limit=1000),
            [
                c.name
                for c in self.cycles.filtered(lambda c: c.company_id == self.shop_b)
            ],
        )
        self.assertEqual(self.names(state="scheduled"), [self.cycles[1].name])
        # The cycles open at some time in the window: week 1 only.
        window = {
            "date_from": (T0 + timedelta(weeks=1)).isoformat() + "Z",
            "date_to": (T0 + timedelta(weeks=1, days=1)).isoformat() + "Z",
            "company_id": self.shop_a.id,
        }
        self.assertEqual(self.names(**window), [self.cycles[1].name])
        for params in ({"state": "ajar"}, {"date_from": "soon"}, {"cursor": "x"}):
            with self.subTest(params=params):
                response = self.api("GET", f"{URL}?{urlencode(params)}", self.key)
                self.assertApiError(response, 400, "invalid_parameter")

    def test_cursor_pages_through_every_cycle_once(self):
        seen, cursor = [], None
        for _page in range(100):
            params = {"limit": 2, "company_id": self.shop_a.id}
            if cursor:
                params["cursor"] = cursor
            body = self.api("GET", f"{URL}?{urlencode(params)}", self.key).json()
            seen += [cycle["id"] for cycle in body["data"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        self.assertEqual(
            seen,
            self.env["coop.sale.cycle"]
            .search([("company_id", "=", self.shop_a.id)], order="id")
            .ids,
        )

    def test_the_webhooks_key_does_not_read_them(self):
        response = self.api("GET", URL, self.webhooks_key)
        self.assertApiError(response, 403, "insufficient_scope")
