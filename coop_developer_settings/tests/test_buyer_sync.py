# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import threading

import psycopg2

from odoo import sql_db
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL, mute_logger

from .common import RealTransactionsMixin


@tagged("post_install", "-at_install")
class TestBuyerSync(RealTransactionsMixin, TransactionCase):
    """A newsletter tool syncing while shops change, in real transactions:
    each one commits (or not) on a cursor of its own; the data they commit
    is removed at the end."""

    def setUp(self):
        super().setUp()
        self.db = sql_db.db_connect(self.env.cr.dbname)
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
