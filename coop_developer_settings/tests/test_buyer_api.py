# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The buyer list over /coop/api/v1/buyers and RPC: the caller's shops only,
filters, pages, errors, and the sync cursor that never misses a change
committed late."""

import json
import threading
from datetime import datetime, timedelta
from urllib.parse import urlencode

import psycopg2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo import Command
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools import SQL, mute_logger

from .common import BUYERS, GROUP_XMLID, ApiClientMixin, RealTransactionsMixin
from .hypothesis_profiles import examples


@tagged("post_install", "-at_install")
class TestBuyerApi(ApiClientMixin, HttpCase):
    """GET /coop/api/v1/buyers, as a newsletter tool calls it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shop_a = cls.env["res.company"].create({"name": "Shop A"})
        cls.shop_b = cls.env["res.company"].create({"name": "Shop B"})
        cls.product = cls.env["product.product"].create(
            {"name": "Basket", "list_price": 10.0, "taxes_id": False}
        )
        cls.alice, cls.bob, cls.carol, cls.dan, cls.quote_only = cls.env[
            "res.partner"
        ].create(
            [
                {"name": "Alice", "email": "alice@example.org"},
                {"name": "Bob", "email": "bob@example.org"},
                {"name": "Carol", "email": "carol@example.org", "phone": "+33 1 23"},
                {"name": "Dan (shop B)", "email": "dan@example.org"},
                {"name": "Quote only", "email": "quote@example.org"},
            ]
        )
        start = datetime.now() - timedelta(days=1)
        cls.cycle = cls.env["coop.sale.cycle"].create(
            {
                "name": "Week 48",
                "company_id": cls.shop_a.id,
                "date_open": start,
                "date_close": start + timedelta(days=7),
            }
        )
        cls.cycle.action_open()
        cls.order(cls.alice, cls.shop_a)
        cls.order(cls.alice, cls.shop_a)
        cls.order(cls.bob, cls.shop_a)
        cls.order(cls.dan, cls.shop_b)
        cls.order(cls.quote_only, cls.shop_a, confirm=False)
        carol_order = cls.order(cls.carol, cls.shop_a)
        carol_order.sale_cycle_id = False  # ordered outside the cycle
        cls.env["mail.blacklist"].create({"email": "bob@example.org"})

        cls.developer = new_test_user(
            cls.env,
            login="coop-api-dev",
            groups=f"base.group_user,{GROUP_XMLID}",
            company_id=cls.shop_a.id,
            company_ids=[Command.set(cls.shop_a.ids)],
        )
        cls.key = (
            cls.env["res.users.apikeys"]
            .with_user(cls.developer)
            ._generate(None, "Newsletter", datetime.now() + timedelta(days=1))
        )

    @classmethod
    def order(cls, partner, company, confirm=True):
        order = cls.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "company_id": company.id,
                "order_line": [Command.create({"product_id": cls.product.id})],
            }
        )
        if confirm:
            order.action_confirm()
        return order

    def get(self, key=None, headers=None, path=BUYERS, **params):
        headers = dict(headers or {})
        if key != "":
            headers["Authorization"] = f"Bearer {key or self.key}"
        response = self.url_open(f"{path}?{urlencode(params)}", headers=headers)
        self.assertEqual(
            response.headers["Content-Type"], "application/json; charset=utf-8"
        )
        if path == BUYERS:  # as the OpenAPI document says
            self.assert_conforms(response)
        return response.status_code, response.json()

    def names(self, **params):
        status, body = self.get(**params)
        self.assertEqual(status, 200, body)
        return sorted(row["name"] for row in body["data"])

    def test_exactly_the_buyers_of_the_callers_companies(self):
        status, body = self.get()
        self.assertEqual(status, 200, body)
        self.assertEqual(
            sorted(row["name"] for row in body["data"]), ["Alice", "Carol"]
        )
        alice = next(row for row in body["data"] if row["name"] == "Alice")
        self.assertEqual(alice["order_count"], 2)
        self.assertEqual(alice["email"], "alice@example.org")
        self.assertEqual(alice["company"], {"id": self.shop_a.id, "name": "Shop A"})
        self.assertEqual(alice["last_cycle"], {"id": self.cycle.id, "name": "Week 48"})
        self.assertFalse(alice["opt_out"])
        self.assertIsNone(body["next_cursor"])

    def test_a_page_costs_a_few_queries_whatever_it_holds(self):
        """Each query is a round trip the request waits for, and what a page
        costs over Odoo's empty request grows with them (benchmarks/README.md
        §5): the user's companies come from Odoo's cache, the names of the
        shops and cycles with the rows (14 queries before)."""
        self.get()  # the worker's caches filled, as after its first request
        for params in (
            {},
            {"include_opted_out": "true"},
            {"company_id": self.shop_a.id},
        ):
            with self.subTest(**params), self.assertQueryCount(11):
                status, body = self.get(**params)
            self.assertEqual(status, 200, body)

    def test_opted_out_buyers_only_on_request(self):
        self.assertNotIn("Bob", self.names())
        self.assertEqual(
            self.names(include_opted_out="true"), ["Alice", "Bob", "Carol"]
        )

    def test_filters(self):
        self.assertEqual(self.names(cycle_id=self.cycle.id), ["Alice"])
        self.assertEqual(self.names(company_id=self.shop_a.id), ["Alice", "Carol"])
        future = (datetime.now() + timedelta(days=1)).isoformat() + "Z"
        self.assertEqual(self.names(updated_since=future), [])
        # Changes include the opted-out buyers (flagged), for the tools to
        # unsubscribe them.
        self.assertEqual(
            self.names(updated_since="2000-01-01T00:00:00+02:00"),
            ["Alice", "Bob", "Carol"],
        )

    def test_pagination(self):
        seen, cursor = [], None
        for _page in range(5):
            params = {"limit": 1, "include_opted_out": "true"}
            if cursor:
                params["cursor"] = cursor
            status, body = self.get(**params)
            self.assertEqual(status, 200, body)
            self.assertLessEqual(len(body["data"]), 1)
            seen += [row["name"] for row in body["data"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        self.assertEqual(sorted(seen), ["Alice", "Bob", "Carol"])
        self.assertEqual(len(seen), len(set(seen)), "no buyer twice")

    def test_unauthorised(self):
        for key in ("", "0" * 40, self.key[:8] + "0" * 32):
            status, body = self.get(key=key)
            self.assertEqual((status, body["error"]), (401, "invalid_api_key"), key)
            self.assertTrue(body["message"])
        self.developer.api_key_ids._remove()
        status, body = self.get()
        self.assertEqual((status, body["error"]), (401, "invalid_api_key"))

    def test_expired_key(self):
        expired = (
            self.env["res.users.apikeys"]
            .with_user(self.developer)
            .sudo()
            # Expired for PostgreSQL, whose now() is when the test's
            # transaction began (a minute may have gone by since).
            ._generate(None, "Old", self.env.cr.now() - timedelta(minutes=1))
        )
        status, body = self.get(key=expired)
        self.assertEqual((status, body["error"]), (401, "invalid_api_key"))

    def test_forbidden(self):
        self.developer.write(
            {
                "groups_id": [Command.unlink(self.env.ref(GROUP_XMLID).id)],
                "coop_revoke_on_access_removal": False,
            }
        )
        status, body = self.get()
        self.assertEqual((status, body["error"]), (403, "forbidden"))

    def test_other_company_is_forbidden(self):
        status, body = self.get(company_id=self.shop_b.id)
        self.assertEqual((status, body["error"]), (403, "company_forbidden"))
        other_cycle = self.cycle.copy({"company_id": self.shop_b.id})
        status, body = self.get(cycle_id=other_cycle.id)
        self.assertEqual((status, body["error"]), (404, "cycle_not_found"))

    def test_bad_parameters(self):
        for params in (
            {"limit": 0},
            {"limit": 1001},
            {"limit": "ten"},
            {"limit": "١٢"},  # digits, but not ASCII ones
            {"cursor": -1},
            {"cursor": 2147483648},
            {"cursor": 10**30},
            {"cursor": "1.2.3"},
            {"cursor": "1.99999999999999999999.0.0"},
            {"company_id": "abc"},
            {"company_id": 2147483648},
            {"cycle_id": 10**30},
            {"updated_since": "yesterday"},
            {"updated_since": "0001-01-01T00:00:00+01:00"},
            {"updated_since": "9999-12-31T23:59:59-01:00"},
            {"updated_since": "2026-01-01\x00"},
            {"include_opted_out": "maybe"},
        ):
            status, body = self.get(**params)
            self.assertEqual(
                (status, body["error"]), (400, "invalid_parameter"), params
            )
            self.assertIn(next(iter(params)), body["message"])

    @settings(
        max_examples=examples(150),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        params=st.dictionaries(
            st.sampled_from(
                ["cursor", "limit", "company_id", "cycle_id", "updated_since"]
                + ["include_opted_out"]
            ),
            st.one_of(
                st.text(max_size=40),
                st.integers(-(10**25), 10**25).map(str),
                st.datetimes().map(lambda value: value.isoformat()),
                st.from_regex(r"1\.[0-9]{1,22}\.[0-9]{1,22}\.[0-9]{1,12}"),
            ),
        )
    )
    def test_any_input_gets_a_documented_json_answer(self, params):
        status, body = self.get(**params)
        if status == 200:
            self.assertEqual(set(body), {"data", "next_cursor", "sync_cursor"})
        else:
            self.assertIn(
                (status, body["error"]),
                {
                    (400, "invalid_parameter"),
                    (403, "company_forbidden"),
                    (404, "cycle_not_found"),
                },
                params,
            )
            self.assertTrue(body["message"])

    def test_limit_up_to_1000(self):
        status, body = self.get(limit=1000)
        self.assertEqual(status, 200, body)

    def test_changes_carry_opt_outs_and_removals(self):
        status, body = self.get(updated_since="2000-01-01T00:00:00Z")
        self.assertEqual(status, 200, body)
        bob = next(row for row in body["data"] if row["name"] == "Bob")
        self.assertEqual((bob["opt_out"], bob["removed"]), (True, False))
        carol = next(row for row in body["data"] if row["name"] == "Carol")
        self.env["sale.order"].search([("partner_id", "=", self.carol.id)]).write(
            {"state": "cancel"}
        )
        status, body = self.get(updated_since="2000-01-01T00:00:00Z")
        tombstone = next(row for row in body["data"] if row["id"] == carol["id"])
        self.assertEqual(
            tombstone,
            {
                "id": carol["id"],
                "removed": True,
                "partner_id": self.carol.id,
                "email": "carol@example.org",
                "email_normalized": "carol@example.org",
                "previous_email": None,
                "company": {"id": self.shop_a.id, "name": "Shop A"},
            },
        )
        # A full list never shows removed buyers, even with the opted-out.
        self.assertEqual(self.names(include_opted_out="true"), ["Alice", "Bob"])

    def test_every_kind_of_buyer_is_as_documented(self):
        """A removed buyer whose customer was deleted (merged), and a buyer
        who is a contact without a name: null, as the document says."""
        eve = self.env["res.partner"].create(
            {"name": "Eve", "email": "eve@example.org"}
        )
        self.order(eve, self.shop_a)
        nameless = self.env["res.partner"].create(
            {"type": "delivery", "parent_id": self.alice.id, "email": False}
        )
        self.order(nameless, self.shop_a)
        self.env["base.partner.merge.automatic.wizard"]._merge(
            (eve | self.alice).ids, self.alice
        )
        status, body = self.get(updated_since="2000-01-01T00:00:00Z")  # conforms
        self.assertEqual(status, 200, body)
        removed = [row for row in body["data"] if row["removed"]]
        self.assertIn(None, [row["partner_id"] for row in removed])
        current = [row for row in body["data"] if not row["removed"]]
        self.assertIn(None, [row["name"] for row in current])

    def test_email_identity_and_previous_email(self):
        zoe, pair = self.env["res.partner"].create(
            [
                {"name": "Zoë", "email": "Zoë Étienne <Zoe@Example.ORG>"},
                {"name": "Pair", "email": "a@example.org, b@example.org"},
            ]
        )
        self.order(zoe, self.shop_a)
        self.order(pair, self.shop_a)
        status, first = self.get(limit=1000)
        self.assertEqual(status, 200, first)
        rows = {row["partner_id"]: row for row in first["data"]}
        self.assertEqual(
            (rows[zoe.id]["email_normalized"], rows[zoe.id]["previous_email"]),
            ("zoe@example.org", None),
        )
        self.assertEqual(rows[pair.id]["email"], "a@example.org, b@example.org")
        self.assertIsNone(rows[pair.id]["email_normalized"], "several addresses")

        # Changes since the cursor: the address each tool knew, to drop.
        zoe.email = "zoe@new.example.org"
        self.alice.email = "Alice <ALICE@example.org>"  # the same address
        self.env["sale.order"].search([("partner_id", "=", self.bob.id)]).write(
            {"state": "cancel"}
        )
        self.env.flush_all()
        self.bob.email = "bob@new.example.org"  # a removed buyer keeps its last
        self.env["sale.order"].search([("partner_id", "=", self.carol.id)]).write(
            {"state": "cancel"}
        )
        status, changes = self.get(cursor=first["sync_cursor"])
        self.assertEqual(status, 200, changes)
        rows = {row["partner_id"]: row for row in changes["data"]}
        self.assertEqual(
            (rows[zoe.id]["email_normalized"], rows[zoe.id]["previous_email"]),
            ("zoe@new.example.org", "zoe@example.org"),
        )
        self.assertEqual(
            (
                rows[self.alice.id]["email_normalized"],
                rows[self.alice.id]["previous_email"],
            ),
            ("alice@example.org", None),
        )
        self.assertEqual(
            (rows[self.bob.id]["removed"], rows[self.bob.id]["email_normalized"]),
            (True, "bob@example.org"),
        )
        self.assertEqual(
            (rows[self.carol.id]["removed"], rows[self.carol.id]["previous_email"]),
            (True, None),
        )
        # A full listing does not report it.
        status, listing = self.get(limit=1000)
        self.assertEqual(
            [row["previous_email"] for row in listing["data"]],
            [None] * len(listing["data"]),
        )
        # updated_since, as a cursor.
        status, since = self.get(updated_since="2000-01-01T00:00:00Z", limit=1000)
        rows = {row["partner_id"]: row for row in since["data"]}
        self.assertEqual(rows[zoe.id]["previous_email"], "zoe@example.org")

    def test_every_answer_carries_the_next_sync_cursor(self):
        status, first = self.get(limit=1, include_opted_out="true")
        self.assertEqual(status, 200, first)
        self.assertTrue(first["next_cursor"])
        self.assertTrue(first["sync_cursor"])
        status, second = self.get(
            limit=1, include_opted_out="true", cursor=first["next_cursor"]
        )
        self.assertEqual(status, 200, second)
        # The watermark of a listing is the one of its first page.
        self.assertEqual(second["sync_cursor"], first["sync_cursor"])
        status, changes = self.get(cursor=first["sync_cursor"])
        self.assertEqual(status, 200, changes)

    def test_rpc_answers_the_same_page(self):
        params = {"limit": 2, "include_opted_out": True}
        status, body = self.get(**params)
        self.assertEqual(status, 200, body)
        uid = self.xmlrpc_common.authenticate(
            self.env.cr.dbname, "coop-api-dev", self.key, {}
        )
        page = self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, uid, self.key, "coop.buyer", "buyer_page", [], params
        )
        # XML-RPC has no null: absent values are false, as in Odoo's read().
        self.assertEqual(
            page["data"],
            [
                {name: False if value is None else value for name, value in row.items()}
                for row in body["data"]
            ],
        )
        self.assertEqual(page["next_cursor"], body["next_cursor"])

    def test_options_answers_without_data(self):
        response = self.opener.options(
            self.base_url() + BUYERS, headers={"Authorization": f"Bearer {self.key}"}
        )
        self.assertEqual(response.status_code, 204)
        self.assertEqual(response.content, b"")
        self.assertIn("GET", response.headers["Allow"])

    def test_database_header_and_unknown_endpoints(self):
        status, body = self.get(headers={"X-Odoo-Database": self.env.cr.dbname})
        self.assertEqual(status, 200, body)
        status, body = self.get(headers={"X-Odoo-Database": "no-such-db"})
        self.assertEqual((status, body["error"]), (404, "database_not_found"))
        status, body = self.get(path="/coop/api/v1/buyer")
        self.assertEqual((status, body["error"]), (404, "not_found"))
        self.assertTrue(json.dumps(body))


@tagged("post_install", "-at_install")
class TestBuyerSync(RealTransactionsMixin, TransactionCase):
    """A newsletter tool syncing while shops change, in real transactions:
    each one commits (or not) on a cursor of its own; the data they commit
    is removed at the end."""

    def setUp(self):
        super().setUp()
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            self.company_id = env.ref("base.main_company").id
            partners = env["res.partner"].create(
                [
                    {"name": f"Sync {name}", "email": f"sync-{name}@example.org"}
                    for name in ("x", "y")
                ]
            )
            self.partner_ids = partners.ids
            orders = env["sale.order"].create(
                [
                    {"partner_id": partner.id, "company_id": self.company_id}
                    for partner in partners
                    for _twice in range(2)
                ]
            )
            self.order_ids = orders.ids
        self.addCleanup(self.remove_data)

    def remove_data(self):
        with self.db.cursor() as cr:
            cr.execute(
                SQL("DELETE FROM sale_order WHERE id IN %s", tuple(self.order_ids))
            )
            cr.execute(
                SQL(
                    "DELETE FROM coop_buyer WHERE partner_id IN %s",
                    tuple(self.partner_ids),
                )
            )
            cr.execute(
                SQL(
                    "DELETE FROM mail_blacklist WHERE email LIKE %s",
                    "sync-%@example.org",
                )
            )
            cr.execute(
                SQL("DELETE FROM res_partner WHERE id IN %s", tuple(self.partner_ids))
            )

    def confirm(self, env, order_id):
        env["sale.order"].browse(order_id).action_confirm()
        env.flush_all()

    def sync(self, **params):
        """What the tool receives, read in a transaction of its own, all
        pages followed."""
        rows, cursor = [], params.pop("cursor", None)
        with self.db.cursor() as cr:
            buyers = self.env_of(cr)["coop.buyer"]
            while True:
                page = buyers.buyer_page(cursor=cursor, limit=1000, **params)
                rows += page["data"]
                if not page["next_cursor"]:
                    break
                cursor = page["next_cursor"]
        ours = [row for row in rows if row["partner_id"] in self.partner_ids]
        return {row["partner_id"]: row for row in ours}, page["sync_cursor"]

    def test_a_change_committed_after_a_later_one_is_not_missed(self):
        x_id, y_id = self.partner_ids
        _rows, cursor = self.sync()
        with self.db.cursor() as first, self.db.cursor() as second:
            # The first transaction starts first, and takes the older id...
            first.execute(SQL("SELECT pg_current_xact_id()"))
            second.execute(SQL("SELECT pg_current_xact_id()"))
            self.confirm(self.env_of(first), self.order_ids[0])  # customer x
            # ... the second commits first.
            self.confirm(self.env_of(second), self.order_ids[2])  # customer y
            second.commit()
            rows, next_cursor = self.sync(cursor=cursor)
            self.assertEqual(list(rows), [y_id], "x is not committed yet")
            first.commit()
        # Syncing by time, from the newest change the tool saw, misses x:
        # its stamp is older than y's, yet it was committed later.
        with self.db.cursor() as cr:
            cr.execute(
                SQL("SELECT updated_at FROM coop_buyer WHERE partner_id = %s", y_id)
            )
            [(y_updated_at,)] = cr.fetchall()
        by_time, _cursor = self.sync(updated_since=y_updated_at.isoformat())
        self.assertNotIn(x_id, by_time, "the race this test is about happened")
        # The sync cursor does not.
        rows, _cursor = self.sync(cursor=next_cursor)
        self.assertIn(x_id, rows)
        self.assertEqual(rows[x_id]["order_count"], 1)

    def test_opt_outs_and_removals_reach_the_tool(self):
        x_id, _y_id = self.partner_ids
        with self.db.cursor() as cr:
            self.confirm(self.env_of(cr), self.order_ids[0])
        rows, cursor = self.sync()
        self.assertEqual(rows[x_id]["opt_out"], False)
        with self.db.cursor() as cr:
            self.env_of(cr)["mail.blacklist"]._add("sync-x@example.org")
        rows, cursor = self.sync(cursor=cursor)
        self.assertEqual(list(rows), [x_id], "only what changed")
        self.assertEqual(rows[x_id]["opt_out"], True)
        # The default full list leaves the opted-out out.
        full, _cursor = self.sync()
        self.assertNotIn(x_id, full)
        with self.db.cursor() as cr:
            self.env_of(cr)["sale.order"].browse(self.order_ids[0])._action_cancel()
        rows, cursor = self.sync(cursor=cursor)
        self.assertEqual(rows[x_id]["removed"], True)
        self.assertEqual(rows[x_id]["email"], "sync-x@example.org")

    def in_parallel(self, isolation, first_change, second_change):
        """Run two changes of customer x's orders in two transactions at
        once: the second starts while the first is open, waits for it, and
        the first commits. Returns what became of the second, and x's
        buyer."""
        outcome = []
        level = SQL(f"SET TRANSACTION ISOLATION LEVEL {isolation}")  # pylint: disable=sql-injection
        with self.db.cursor() as first:
            first.execute(level)
            first.execute(first_change)

            def second_transaction():
                with self.db.cursor() as second:
                    second.execute(level)
                    try:
                        second.execute(second_change)
                        second.commit()
                        outcome.append("committed")
                    except psycopg2.errors.SerializationFailure:
                        second.rollback()
                        outcome.append("serialization failure")

            thread = threading.Thread(target=second_transaction)
            thread.start()
            thread.join(timeout=1)
            self.assertTrue(thread.is_alive(), "the second waits for the first")
            first.commit()
            thread.join(timeout=20)
        with self.db.cursor() as cr:
            cr.execute(
                SQL(
                    "SELECT order_count, last_cycle_id FROM coop_buyer"
                    " WHERE partner_id = %s",
                    self.partner_ids[0],
                )
            )
            return outcome, cr.fetchone()

    def confirm_sql(self, order_id):
        return SQL("UPDATE sale_order SET state = 'sale' WHERE id = %s", order_id)

    def test_concurrent_refreshes_in_read_committed(self):
        # psql sessions: the second refresh computes after the first commit.
        self.assertEqual(
            self.in_parallel(
                "READ COMMITTED",
                self.confirm_sql(self.order_ids[0]),
                self.confirm_sql(self.order_ids[1]),
            ),
            (["committed"], (2, None)),
        )

    @mute_logger("odoo.sql_db")
    def test_concurrent_refreshes_in_repeatable_read(self):
        # Odoo's level: the second conflicts (Odoo retries such transactions)
        # rather than write a count computed without the first's order.
        self.assertEqual(
            self.in_parallel(
                "REPEATABLE READ",
                self.confirm_sql(self.order_ids[0]),
                self.confirm_sql(self.order_ids[1]),
            ),
            (["serialization failure"], (1, None)),
        )

    @mute_logger("odoo.sql_db")
    def test_a_refresh_that_changes_nothing_still_conflicts(self):
        older, newer = self.order_ids[:2]
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            cycles = env["coop.sale.cycle"].create(
                [
                    {
                        "name": f"Sync cycle {number}",
                        "company_id": self.company_id,
                        "date_open": "2026-01-05 08:00:00",
                        "date_close": "2026-01-06 08:00:00",
                    }
                    for number in (1, 2)
                ]
            )
            self.addCleanup(self.remove_cycles, cycles.ids)
            env.cr.execute(
                SQL(
                    "UPDATE sale_order SET state = 'sale', date_order = %s,"
                    " sale_cycle_id = %s WHERE id = %s",
                    "2026-01-05 09:00:00",
                    None,
                    older,
                )
            )
            env.cr.execute(
                SQL(
                    "UPDATE sale_order SET state = 'sale', date_order = %s,"
                    " sale_cycle_id = %s WHERE id = %s",
                    "2026-01-06 09:00:00",
                    cycles[0].id,
                    newer,
                )
            )
        # The first puts the older order in cycle 2: the buyer's last cycle
        # is still the newer order's (cycle 1), the row does not change. The
        # second cancels the newer order: from its snapshot, the last order
        # has no cycle. Together: the last cycle is cycle 2.
        outcome, (count, last_cycle_id) = self.in_parallel(
            "REPEATABLE READ",
            SQL(
                "UPDATE sale_order SET sale_cycle_id = %s WHERE id = %s",
                cycles[1].id,
                older,
            ),
            SQL("UPDATE sale_order SET state = 'cancel' WHERE id = %s", newer),
        )
        self.assertEqual(outcome, ["serialization failure"])
        self.assertEqual((count, last_cycle_id), (2, cycles[0].id))

    def remove_cycles(self, cycle_ids):
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            env["mail.message"].search(
                [("model", "=", "coop.sale.cycle"), ("res_id", "in", cycle_ids)]
            ).unlink()
            env["coop.sale.cycle"].browse(cycle_ids).unlink()
