# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from contextlib import closing
from datetime import datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import SQL, email_normalize

from ..models import coop_buyer_sql as buyer_sql
from ..models.coop_buyer_sql import SINGLE_ADDRESS
from .buyer_reference import COMPARED_COLUMNS, REFERENCE_QUERY
from .hypothesis_profiles import examples

BUYER_FIELDS = [
    "partner_id",
    "company_id",
    "name",
    "email",
    "phone",
    "order_count",
    "last_cycle_id",
    "opt_out",
    "active",
]
T0 = datetime(2026, 3, 2, 8, 0, 0)
# As typed: with a name and capitals, several in one field, none.
EMAILS = [
    "ann@example.org",
    "Bea <BEA@example.org>",
    "cy@example.org",
    "ann@example.org, cy@example.org",
    False,
]
NAMES = ("Ann", "Bea", "Cy", "Ann and Cy", "Dee")


class BuyerTableCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shops = cls.env["res.company"].create(
            [{"name": "Buyers shop A"}, {"name": "Buyers shop B"}]
        )
        cls.cycles = cls.env["coop.sale.cycle"].create(
            [
                {
                    "name": f"Cycle {index} of {shop.name}",
                    "company_id": shop.id,
                    "date_open": T0 + timedelta(days=7 * index),
                    "date_close": T0 + timedelta(days=7 * index + 2),
                }
                for shop in cls.shops
                for index in range(2)
            ]
        )

    def differences(self):
        """Current buyers missing from the table, and table rows that are no
        current buyer, per the reference recomputation (both empty: equal)."""
        self.env.flush_all()
        columns = SQL(", ").join(SQL.identifier(column) for column in COMPARED_COLUMNS)
        reference = SQL(REFERENCE_QUERY)  # pylint: disable=sql-injection
        missing = self.env.execute_query(
            SQL(
                "SELECT %(columns)s FROM (%(reference)s) AS reference"
                " EXCEPT SELECT %(columns)s FROM coop_buyer WHERE active",
                columns=columns,
                reference=reference,
            )
        )
        extra = self.env.execute_query(
            SQL(
                "SELECT %(columns)s FROM coop_buyer WHERE active"
                " EXCEPT SELECT %(columns)s FROM (%(reference)s) AS reference",
                columns=columns,
                reference=reference,
            )
        )
        # A removed buyer is one without any confirmed order in the shop.
        misplaced_tombstones = self.env.execute_query(
            SQL(
                """SELECT b.id FROM coop_buyer b
                    WHERE NOT b.active AND EXISTS (
                        SELECT 1 FROM sale_order so
                         WHERE so.company_id = b.company_id
                           AND so.partner_id = b.partner_id
                           AND so.state = 'sale')"""
            )
        )
        return missing, extra, misplaced_tombstones

    def assertTableIsCurrent(self, msg=None):
        self.assertEqual(self.differences(), ([], [], []), msg)

    def order(self, partner, shop, confirm=True, **vals):
        order = self.env["sale.order"].create(
            {"partner_id": partner.id, "company_id": shop.id, **vals}
        )
        if confirm:
            order.action_confirm()
        return order

    def buyer(self, partner, shop):
        return (
            self.env["coop.buyer"]
            .with_context(active_test=False)
            .search([("partner_id", "=", partner.id), ("company_id", "=", shop.id)])
        )


# The changes a buyer depends on; the integers pick orders, customers, shops,
# cycles, addresses and days, modulo what exists when the step runs.
index = st.integers(0, 7)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("create"), index, index, st.booleans()),
        st.tuples(st.just("create_confirmed"), index, index),
        st.tuples(st.just("confirm"), index),
        st.tuples(
            st.just("confirm_all"),
        ),
        st.tuples(st.just("cancel"), index),
        st.tuples(st.just("draft"), index),
        st.tuples(st.just("unlink"), index),
        st.tuples(st.just("sql_delete"), index),
        st.tuples(st.just("move_shop_sql"), index),
        st.tuples(st.just("move_customer"), index, index),
        st.tuples(st.just("move_customer_sql"), index, index),
        st.tuples(st.just("date"), index, st.integers(-30, 30)),
        st.tuples(st.just("cycle"), index, st.integers(-1, 1)),
        st.tuples(st.just("rename"), index),
        st.tuples(st.just("email"), index, index),
        st.tuples(st.just("phone"), index),
        st.tuples(st.just("merge"), index, index),
        st.tuples(st.just("blacklist"), index),
        st.tuples(st.just("unblacklist"), index),
        st.tuples(st.just("blacklist_unlink"), index),
        st.tuples(st.just("blacklist_sql"), index, st.booleans()),
    ),
    min_size=1,
    max_size=14,
)


@tagged("post_install", "-at_install")
class TestBuyerTableProperty(BuyerTableCase):
    """Random sequences of every change a buyer depends on, made through the
    ORM, the merge wizard and raw SQL: after each step the table equals the
    reference recomputation, and the buyers read before the step (still in
    the ORM cache) read the table's new values."""

    @settings(
        max_examples=examples(40),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(steps=steps)
    # Address changes of a buyer, always tried: respelled, several, none,
    # while removed, back.
    @example(
        steps=[
            ("create_confirmed", 0, 0),
            ("email", 0, 1),
            ("email", 0, 3),
            ("email", 0, 4),
            ("cancel", 0),
            ("email", 0, 2),
            ("draft", 0),
            ("confirm", 0),
            ("email", 0, 0),
        ]
    )
    def test_table_equals_the_recomputation(self, steps):
        with closing(self.env.cr.savepoint(flush=False)):
            self.run_steps(steps)
            self.env.flush_all()
        self.env.invalidate_all(flush=False)

    def run_steps(self, steps):
        partners = self.env["res.partner"].create(
            [
                {"name": name, "email": email, "phone": None}
                for name, email in zip(NAMES, EMAILS, strict=True)
            ]
        )
        state = {"partners": partners, "orders": self.env["sale.order"]}
        for number, step in enumerate(steps):
            addresses_before = self.addresses()
            cached = self.env["coop.buyer"].with_context(active_test=False).search([])
            cached.read(BUYER_FIELDS)  # into the ORM cache
            through_sql = getattr(self, f"step_{step[0]}")(state, *step[1:])
            if through_sql:
                # Raw SQL leaves the ORM cache to its author, as the merge
                # wizard does.
                self.env.invalidate_all()
            self.assertTableIsCurrent(f"after step {number}: {step}")
            self.assertPreviousAddresses(addresses_before, f"step {number}: {step}")
            self.assertEqual(
                cached.exists(), cached, f"buyers are never deleted (step {step})"
            )
            self.env.flush_all()
            rows = {
                row["id"]: row
                for row in self.env.execute_query_dict(
                    SQL(
                        "SELECT id, partner_id, company_id, name, email, phone,"
                        " order_count, last_cycle_id, opt_out, active"
                        " FROM coop_buyer WHERE id IN %s",
                        tuple(cached.ids) or (0,),
                    )
                )
            }
            for buyer in cached:
                values = {
                    name: buyer[name].id if name.endswith("_id") else buyer[name]
                    for name in BUYER_FIELDS
                }
                expected = {
                    name: rows[buyer.id][name]
                    if name == "order_count"
                    else rows[buyer.id][name] or False
                    for name in BUYER_FIELDS
                }
                self.assertEqual(
                    values, expected, f"ORM cache after step {number}: {step}"
                )

    def addresses(self):
        """{buyer id: (its address as the API gives it, previous_email)}."""
        self.env.flush_all()
        address = SQL(SINGLE_ADDRESS.format(row="coop_buyer"))  # pylint: disable=sql-injection
        return {
            id_: (current, previous)
            for id_, current, previous in self.env.execute_query(
                SQL("SELECT id, %s, previous_email FROM coop_buyer", address)
            )
        }

    def assertPreviousAddresses(self, before, msg):
        """A buyer whose address changed keeps the one it had; the others
        keep their previous_email."""
        for id_, (current, previous) in self.addresses().items():
            if id_ not in before:
                self.assertIsNone(previous, f"a new buyer has none ({msg})")
            elif current != before[id_][0]:
                self.assertEqual(previous, before[id_][0], msg)
            else:
                self.assertEqual(previous, before[id_][1], msg)

    # Each step returns True when it wrote with raw SQL.

    def pick(self, records, position):
        return records[position % len(records)] if records else None

    def step_create(self, state, partner, shop, confirm):
        state["orders"] |= self.order(
            self.pick(state["partners"], partner),
            self.pick(self.shops, shop),
            confirm=confirm,
            date_order=T0,
        )

    def step_create_confirmed(self, state, partner, shop):
        state["orders"] |= self.order(
            self.pick(state["partners"], partner),
            self.pick(self.shops, shop),
            confirm=False,
            state="sale",
            date_order=T0 - timedelta(days=1),
        )

    def step_confirm(self, state, order):
        order = self.pick(state["orders"].filtered(lambda o: o.state == "draft"), order)
        if order:
            order.action_confirm()

    def step_confirm_all(self, state):
        drafts = state["orders"].filtered(lambda o: o.state == "draft")
        if drafts:
            drafts.action_confirm()  # one UPDATE for all of them

    def step_cancel(self, state, order):
        order = self.pick(
            state["orders"].filtered(lambda o: o.state != "cancel"), order
        )
        if order:
            order._action_cancel()

    def step_draft(self, state, order):
        order = self.pick(
            state["orders"].filtered(lambda o: o.state == "cancel"), order
        )
        if order:
            order.action_draft()

    def step_unlink(self, state, order):
        order = self.pick(state["orders"], order)
        if order:
            if order.state not in ("draft", "cancel"):
                order._action_cancel()
            state["orders"] -= order
            order.unlink()

    def step_sql_delete(self, state, order):
        order = self.pick(state["orders"], order)
        if order:
            state["orders"] -= order
            self.env.cr.execute(SQL("DELETE FROM sale_order WHERE id = %s", order.id))
            return True

    def step_move_shop_sql(self, state, order):
        order = self.pick(state["orders"], order)
        if order:
            other = self.shops - order.company_id
            self.env.cr.execute(
                SQL(
                    "UPDATE sale_order SET company_id = %s, sale_cycle_id = NULL"
                    " WHERE id = %s",
                    other.id,
                    order.id,
                )
            )
            return True

    def step_move_customer(self, state, order, partner):
        order = self.pick(state["orders"], order)
        if order:
            order.partner_id = self.pick(state["partners"], partner)

    def step_move_customer_sql(self, state, order, partner):
        order = self.pick(state["orders"], order)
        if order:
            self.env.cr.execute(
                SQL(
                    "UPDATE sale_order SET partner_id = %s WHERE id = %s",
                    self.pick(state["partners"], partner).id,
                    order.id,
                )
            )
            return True

    def step_date(self, state, order, days):
        order = self.pick(state["orders"], order)
        if order:
            order.date_order = T0 + timedelta(days=days, hours=order.id % 5)

    def step_cycle(self, state, order, which):
        order = self.pick(state["orders"], order)
        if order:
            cycles = self.cycles.filtered(lambda c: c.company_id == order.company_id)
            order.sale_cycle_id = cycles[which] if which >= 0 else False

    def step_rename(self, state, partner):
        partner = self.pick(state["partners"], partner)
        partner.name = f"{partner.name}'"

    def step_email(self, state, partner, email):
        self.pick(state["partners"], partner).email = EMAILS[email % len(EMAILS)]

    def step_phone(self, state, partner):
        partner = self.pick(state["partners"], partner)
        partner.phone = f"{partner.phone or '+33'}1"

    def step_merge(self, state, source, destination):
        source = self.pick(state["partners"], source)
        destination = self.pick(state["partners"] - source, destination)
        if destination:
            self.env["base.partner.merge.automatic.wizard"]._merge(
                (source | destination).ids, destination
            )
            state["partners"] -= source
            return True  # the wizard rewrites the orders in SQL

    def blacklisted(self, email):
        # An address (the blacklist takes one: the first of several).
        return (
            email_normalize(EMAILS[email % len(EMAILS)], strict=False)
            or "nobody@example.org"
        )

    def step_blacklist(self, state, email):
        self.env["mail.blacklist"]._add(self.blacklisted(email))

    def step_unblacklist(self, state, email):
        self.env["mail.blacklist"]._remove(self.blacklisted(email))

    def step_blacklist_unlink(self, state, email):
        self.env["mail.blacklist"].with_context(active_test=False).search(
            [("email", "=", self.blacklisted(email))]
        ).unlink()

    def step_blacklist_sql(self, state, email, active):
        self.env.cr.execute(
            SQL(
                "INSERT INTO mail_blacklist (email, active) VALUES (%s, %s)"
                " ON CONFLICT (email) DO UPDATE SET active = EXCLUDED.active",
                self.blacklisted(email),
                active,
            )
        )
        return True


@tagged("post_install", "-at_install")
class TestBuyerTable(BuyerTableCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shop_a, cls.shop_b = cls.shops
        cls.ann, cls.bea = cls.env["res.partner"].create(
            [
                {"name": "Ann", "email": "ann@example.org"},
                {"name": "Bea", "email": "bea@example.org"},
            ]
        )

    def test_a_merged_customer_leaves_a_removed_buyer(self):
        self.order(self.ann, self.shop_a)
        self.order(self.bea, self.shop_a)
        ann_buyer = self.buyer(self.ann, self.shop_a)
        self.env["base.partner.merge.automatic.wizard"]._merge(
            (self.ann | self.bea).ids, self.bea
        )
        self.env.invalidate_all()
        self.assertFalse(self.ann.exists())
        self.assertTrue(ann_buyer.exists(), "the merged customer's buyer is kept")
        self.assertEqual(
            ann_buyer.read(["active", "email", "partner_id"])[0],
            {
                "id": ann_buyer.id,
                "active": False,
                "email": "ann@example.org",
                "partner_id": False,
            },
        )
        self.assertEqual(self.buyer(self.bea, self.shop_a).order_count, 2)
        self.assertTableIsCurrent()

    def test_a_removed_buyer_comes_back_with_its_id(self):
        order = self.order(self.ann, self.shop_a)
        buyer = self.buyer(self.ann, self.shop_a)
        order._action_cancel()
        self.assertFalse(buyer.active)
        self.ann.email = "ann.new@example.org"
        self.assertEqual(buyer.email, "ann@example.org", "tombstones keep the email")
        order.action_draft()
        order.action_confirm()
        self.assertEqual(self.buyer(self.ann, self.shop_a), buyer)
        self.assertTrue(buyer.active)
        self.assertEqual(buyer.email, "ann.new@example.org")

    def test_removed_buyers_are_hidden_unless_the_domain_asks(self):
        cancelled = self.order(self.ann, self.shop_a)
        self.order(self.bea, self.shop_a)
        Buyer = self.env["coop.buyer"]
        partners = [("partner_id", "in", (self.ann | self.bea).ids)]
        self.assertEqual(len(Buyer.search(partners)), 2)
        cancelled._action_cancel()
        self.assertEqual(Buyer.search(partners).partner_id, self.bea)
        self.assertEqual(
            Buyer.search(partners + [("active", "=", False)]).partner_id, self.ann
        )
        self.assertEqual(
            len(Buyer.search(partners + [("active", "in", [True, False])])), 2
        )

    def test_rebuild_repairs_and_touches_only_what_differs(self):
        self.order(self.ann, self.shop_a)
        self.order(self.bea, self.shop_b)
        self.env.flush_all()
        stamps = self.env.execute_query(
            SQL("SELECT id, updated_at, write_xid::text FROM coop_buyer ORDER BY id")
        )
        admin = self.env.ref("base.user_admin")
        counts = self.env["coop.buyer"]._rebuild()
        self.assertEqual(counts, {"added": 0, "changed": 0, "removed": 0})
        self.assertEqual(
            self.env.execute_query(
                SQL(
                    "SELECT id, updated_at, write_xid::text FROM coop_buyer ORDER BY id"
                )
            ),
            stamps,
            "a rebuild of a current table changes nothing",
        )
        # Out of sync behind the triggers' back (disabled, as a bulk import).
        self.env.cr.execute(
            SQL(
                "ALTER TABLE sale_order DISABLE TRIGGER coop_buyer_sale_order_update;"
                "UPDATE sale_order SET state = 'cancel' WHERE partner_id = %s;"
                "UPDATE sale_order SET partner_id = %s WHERE partner_id = %s;"
                "ALTER TABLE sale_order ENABLE TRIGGER coop_buyer_sale_order_update;",
                self.ann.id,
                self.ann.id,
                self.bea.id,
            )
        )
        self.assertNotEqual(self.differences(), ([], [], []))
        action = self.env["coop.buyer"].with_user(admin).action_rebuild()
        self.assertEqual(action["params"]["message"], "1 added, 0 changed, 2 removed.")
        self.assertTableIsCurrent()

    def test_only_administrators_rebuild(self):
        developer = new_test_user(
            self.env,
            login="buyers-developer",
            groups="base.group_user,coop_developer_settings.group_developer_settings",
        )
        with self.assertRaises(AccessError):
            self.env["coop.buyer"].with_user(developer).action_rebuild()

    def test_confirming_many_orders_at_once(self):
        partners = self.env["res.partner"].create(
            [{"name": f"Buyer {n}", "email": f"b{n}@example.org"} for n in range(50)]
        )
        orders = self.env["sale.order"].create(
            [
                {"partner_id": partner.id, "company_id": shop.id}
                for partner in partners
                for shop in self.shops
            ]
        )
        orders.action_confirm()
        self.assertEqual(
            self.env["coop.buyer"].search_count([("partner_id", "in", partners.ids)]),
            100,
        )
        self.assertTableIsCurrent()

    def test_a_bulk_load_probes_each_pair_by_customer(self):
        """A co-op loading its order history into a fresh install: the
        refresh's plan (generic, made without statistics on sale_order, as
        after an install) must probe each pair's orders by an index that
        starts with the customer, not scan an index (or the shop's or the
        state's entries) per pair: at 1 000 000 orders the load never
        ended."""
        self.load_orders()
        # What the planner knows of sale_order after an install: no
        # statistics (an empty table's; as the superuser, rolled back with
        # the test).
        self.env.cr.execute(
            SQL(
                "DELETE FROM pg_statistic WHERE starelid = 'sale_order'::regclass;"
                "UPDATE pg_class SET reltuples = -1 WHERE oid = 'sale_order'::regclass"
            )
        )
        pairs = [self.shops.ids, (self.ann | self.bea).ids]
        for name, statement in (
            ("upsert", buyer_sql.REFRESH_UPSERT),
            ("upsert and removals", buyer_sql.REFRESH_UPSERT_AND_REMOVALS),
        ):
            with self.subTest(statement=name):
                plan = self.generic_plan(self.with_parameters(statement), pairs)
                # What runs once per pair (the inner side of a nested loop,
                # a correlated sub-plan) must be a probe by customer; what
                # runs once per statement may scan.
                for scan in per_pair_scans(plan, "sale_order"):
                    # A bitmap scan probes with each of its indexes.
                    probes = [
                        node.get("Index Name")
                        for node in plan_nodes(scan)
                        if node["Node Type"]
                        not in ("Bitmap Heap Scan", "BitmapAnd", "BitmapOr")
                    ]
                    self.assertEqual(
                        {self.leading_column(index) for index in probes},
                        {"partner_id"},
                        f"{scan['Node Type']} of {probes} on "
                        f"{scan.get('Index Cond') or scan.get('Recheck Cond')}",
                    )

    def test_the_refresh_reads_a_buyers_orders_from_its_index_alone(self):
        """What the refresh computes from a pair's orders is in the index it
        probes them by: on a vacuumed table it reads one index page per
        buyer, not one heap page per order (on a database of 1 000 000
        orders, most of the cost of loading 100 orders in one INSERT)."""
        self.load_history()
        # A table vacuumed since: its heap pages all marked visible.
        self.env.cr.execute(
            SQL(
                "UPDATE pg_class SET relallvisible = relpages"
                " WHERE oid = 'sale_order'::regclass"
            )
        )
        plan = self.generic_plan(
            self.with_parameters(buyer_sql.REFRESH_UPSERT),
            [self.shops.ids, (self.ann | self.bea).ids],
        )
        scans = [
            (scan["Node Type"], scan.get("Index Name"))
            for scan in per_pair_scans(plan, "sale_order")
        ]
        self.assertEqual(scans, [("Index Only Scan", buyer_sql.PAIR_INDEX)])

    def test_the_refresh_probes_the_blacklist_by_address(self):
        """The opt-out of each refreshed buyer is one probe of the blacklist
        by address: not the whole blacklist read (hashed) at each refresh of
        a few buyers, which cost a load of one order into a database of
        1 000 000 orders as much as the INSERT itself."""
        self.load_history()
        self.env.cr.execute(
            SQL(
                "INSERT INTO mail_blacklist (email, active)"
                " SELECT 'optout' || n || '@example.org', TRUE"
                " FROM generate_series(1, 2000) AS n;"
                "ANALYZE mail_blacklist"
            )
        )
        plan = self.generic_plan(
            self.with_parameters(buyer_sql.REFRESH_UPSERT),
            [self.shops.ids, (self.ann | self.bea).ids],
        )
        scans = [
            (node["Node Type"], node.get("Index Cond"))
            for node in plan_nodes(plan)
            if node.get("Relation Name") == "mail_blacklist"
        ]
        self.assertEqual(
            scans,
            [("Index Scan", "((email)::text = (p.email_normalized)::text)")],
        )

    def test_the_removals_read_the_refreshed_buyers_once(self):
        """An order's update or deletion removes the buyers its upsert did
        not write: what the upsert returns is read once, not once per
        buyer (an UPDATE of 100 000 orders would compare 100 000 by
        100 000)."""
        self.load_history()
        plan = self.generic_plan(
            self.with_parameters(buyer_sql.REFRESH_UPSERT_AND_REMOVALS),
            [self.shops.ids, (self.ann | self.bea).ids],
        )
        self.assertIn("refreshed", [node.get("CTE Name") for node in plan_nodes(plan)])
        self.assertEqual(
            [
                node["Node Type"]
                for node in per_pair_nodes(plan)
                if node.get("CTE Name") == "refreshed"
            ],
            [],
        )

    def test_an_insert_of_orders_gives_the_buyers_of_a_rebuild(self):
        """One INSERT of orders (an import) takes the refresh's path for
        inserts, which skips the removals: its buyers are those a rebuild
        computes."""
        cy = self.env["res.partner"].create({"name": "Cy", "email": "cy@example.org"})
        # Ann a buyer of shop A with an order of cycle 1; Bea a removed buyer
        # of shop B.
        self.order(
            self.ann,
            self.shop_a,
            confirm=False,
            state="sale",
            date_order=T0,
            sale_cycle_id=self.cycles[1].id,
        )
        self.order(
            self.bea, self.shop_b, confirm=False, state="sale", date_order=T0
        )._action_cancel()
        self.env.flush_all()
        shop_a, shop_b = self.shops.ids
        cycle_a0, cycle_a1 = self.cycles.filtered(
            lambda c: c.company_id == self.shop_a
        ).ids
        # (customer, shop, state, days after T0, cycle)
        orders = [
            (self.ann.id, shop_a, "sale", -3, cycle_a0),  # older, another cycle
            (self.ann.id, shop_a, "sale", 2, None),  # later, no cycle
            (self.ann.id, shop_a, "draft", 5, cycle_a0),  # a quotation
            (self.ann.id, shop_b, "sale", 1, None),  # a new buyer of shop B
            (self.bea.id, shop_b, "sale", 4, None),  # the removed buyer back
            (cy.id, shop_a, "sale", 0, cycle_a1),  # a new customer
            (cy.id, shop_a, "sale", 0, cycle_a0),  # same day, later id
            (cy.id, shop_b, "draft", 0, None),
        ]
        self.env.cr.execute(
            SQL(
                """INSERT INTO sale_order (name, partner_id, partner_invoice_id,
                       partner_shipping_id, company_id, state, date_order,
                       sale_cycle_id)
                   SELECT 'IMPORT/' || n, partner_id, partner_id, partner_id,
                          company_id, state, %s + days * interval '1 day', cycle
                     FROM unnest(%s::int[], %s::int[], %s::varchar[], %s::int[],
                                 %s::int[])
                          WITH ORDINALITY
                          AS o(partner_id, company_id, state, days, cycle, n)
                    ORDER BY n""",
                T0,
                *(list(column) for column in zip(*orders, strict=True)),
            )
        )
        self.env.invalidate_all()
        self.assertTableIsCurrent()
        self.assertEqual(
            self.env["coop.buyer"]._rebuild(),
            {"added": 0, "changed": 0, "removed": 0},
        )
        ann_a = self.buyer(self.ann, self.shop_a)
        self.assertEqual(
            (ann_a.order_count, ann_a.last_cycle_id.id), (3, self.cycles[1].id)
        )
        self.assertEqual(self.buyer(cy, self.shop_a).last_cycle_id.id, cycle_a0)
        self.assertEqual(self.buyer(self.bea, self.shop_b).order_count, 1)
        self.assertTrue(self.buyer(self.bea, self.shop_b).active)
        # An update then removes the buyers left without a confirmed order.
        self.env.cr.execute(
            SQL("UPDATE sale_order SET state = 'cancel' WHERE partner_id = %s", cy.id)
        )
        self.env.invalidate_all()
        self.assertFalse(self.buyer(cy, self.shop_a).active)
        self.assertTableIsCurrent()

    def load_orders(self):
        """Orders enough for the planner to prefer an index to a scan, loaded
        in SQL as an import does."""
        self.env.cr.execute(
            SQL(
                """INSERT INTO sale_order (name, company_id, partner_id,
                       partner_invoice_id, partner_shipping_id, date_order,
                       state, sale_cycle_id)
                   SELECT 'LOAD/' || n, pair.company_id, pair.partner_id,
                          pair.partner_id, pair.partner_id, %(t0)s, 'sale', %(cycle)s
                     FROM generate_series(1, 20000) AS n
                     JOIN unnest(%(shops)s::integer[], %(partners)s::integer[])
                          WITH ORDINALITY AS pair(company_id, partner_id, k)
                       ON pair.k = 1 + mod(n, 2)""",
                shops=self.shops.ids,
                partners=(self.ann | self.bea).ids,
                t0=T0,
                cycle=self.cycles[0].id,
            )
        )

    def load_history(self):
        """An order history as a shop has: 1 000 customers with 10 orders
        each, loaded in SQL, analysed."""
        self.env.cr.execute(
            SQL(
                """INSERT INTO res_partner (name, autopost_bills, active)
                   SELECT 'History ' || n, 'ask', TRUE
                     FROM generate_series(1, 1000) AS n;
                   INSERT INTO sale_order (name, company_id, partner_id,
                          partner_invoice_id, partner_shipping_id, date_order,
                          state, sale_cycle_id)
                   SELECT 'HISTORY/' || p.id || '/' || k, %s, p.id, p.id, p.id,
                          %s - k * interval '1 week', 'sale',
                          CASE WHEN mod(k, 2) = 0 THEN %s END
                     FROM res_partner p CROSS JOIN generate_series(1, 10) AS k
                    WHERE starts_with(p.name, 'History ');
                   ANALYZE res_partner;
                   ANALYZE sale_order""",
                self.shop_a.id,
                T0,
                self.cycles[0].id,
            )
        )

    def with_parameters(self, statement):
        """A statement of the refresh's functions, their arguments as
        parameters."""
        return statement.replace("company_ids", "$1::integer[]").replace(
            "partner_ids", "$2::integer[]"
        )

    def leading_column(self, index):
        """The first column of the index, None for no index."""
        if not index:
            return None
        [(column,)] = self.env.execute_query(
            SQL(
                """SELECT a.attname FROM pg_index i
                     JOIN pg_attribute a
                       ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                    WHERE i.indexrelid = %s::regclass""",
                index,
            )
        )
        return column

    def generic_plan(self, statement, arguments):
        """The plan the refresh's function keeps for this statement."""
        cr = self.env.cr
        cr.execute(SQL("SET LOCAL plan_cache_mode = force_generic_plan"))
        cr.execute(
            SQL(
                "PREPARE coop_test_refresh(integer[], integer[]) AS %s",
                SQL(statement),  # pylint: disable=sql-injection
            )
        )
        try:
            cr.execute(
                SQL(
                    "EXPLAIN (FORMAT JSON) EXECUTE coop_test_refresh(%s, %s)",
                    *arguments,
                )
            )
            return cr.fetchone()[0][0]["Plan"]
        finally:
            cr.execute(SQL("DEALLOCATE coop_test_refresh"))


def plan_nodes(node):
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def per_pair_scans(node, table):
    """The scans of ``table`` the plan runs once per row of another input."""
    for scan in per_pair_nodes(node):
        if scan.get("Relation Name") == table:
            yield scan


def per_pair_nodes(node, repeated=False):
    """The nodes the plan runs once per row of another input."""
    if repeated:
        yield node
    for child in node.get("Plans", ()):
        yield from per_pair_nodes(
            child,
            repeated
            or child.get("Parent Relationship") == "SubPlan"
            or (
                node["Node Type"] == "Nested Loop"
                and child.get("Parent Relationship") == "Inner"
            ),
        )
