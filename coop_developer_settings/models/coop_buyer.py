# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The buyer list's table and its maintenance (PostgreSQL triggers, the
rebuild); the pages the API reads of it are in coop_buyer_page.py."""

from odoo import fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL
from odoo.tools import sql as sql_tools

from . import coop_buyer_sql as buyer_sql


class CoopBuyer(models.Model):
    """One row per shop (company) and customer with a confirmed order.

    The list newsletter tools import and keep in sync. A table, kept current
    by PostgreSQL triggers in the transaction of every change it depends on
    (see coop_buyer_sql.py); read-only for everyone.
    """

    _name = "coop.buyer"
    _description = "Buyer"
    _order = "id"
    _inherit = ["coop.api.parameters"]
    _rec_name = "name"
    # The triggers stamp the rows (updated_at, write_xid); no ORM write.
    _log_access = False
    # Any query on the buyers first flushes what their rows are computed
    # from, so that the triggers have run.
    _depends = {
        "sale.order": ["state", "company_id", "partner_id", "date_order"]
        + ["sale_cycle_id"],
        "res.partner": ["name", "email", "email_normalized", "phone"],
        "mail.blacklist": ["email", "active"],
    }
    # (partner_id, company_id), not the other way round: this one index
    # serves the uniqueness, the upsert and the triggers' look-ups by
    # customer; (company_id, id) serves the shop filter (see init()).
    _sql_constraints = [
        (
            "partner_company_uniq",
            "UNIQUE (partner_id, company_id)",
            "A customer is one buyer per shop.",
        )
    ]

    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        readonly=True,
        # A removed buyer outlives its deleted (e.g. merged) customer.
        ondelete="set null",
    )
    name = fields.Char(readonly=True)
    email = fields.Char(readonly=True)
    email_normalized = fields.Char(
        string="Normalized email",
        readonly=True,
        index="btree_not_null",
        help="The customer's normalized email, as Odoo computes it (the first "
        "address of a field holding several): what the opt-outs are looked up "
        "by. The API's email_normalized is null for a field holding several.",
    )
    previous_email = fields.Char(
        string="Previous email",
        readonly=True,
        help="The buyer's address before its last change: a sync since then "
        "reports it, for tools keyed by address to drop it.",
    )
    email_changed_at = fields.Datetime(
        string="Email changed at",
        readonly=True,
        help="When the buyer's address last changed.",
    )
    phone = fields.Char(readonly=True)
    company_id = fields.Many2one(
        "res.company", string="Shop", required=True, readonly=True, ondelete="cascade"
    )
    first_order_date = fields.Datetime(string="First order", readonly=True)
    last_order_date = fields.Datetime(string="Last order", readonly=True)
    order_count = fields.Integer(string="Number of orders", readonly=True)
    last_cycle_id = fields.Many2one(
        "coop.sale.cycle", string="Last sale cycle", readonly=True, ondelete="set null"
    )
    opt_out = fields.Boolean(
        string="Opted out",
        readonly=True,
        help="The email address is on Odoo's mailing blacklist.",
    )
    active = fields.Boolean(
        readonly=True,
        default=True,
        help="Unticked when the customer has no confirmed order left in this "
        "shop: the buyer is removed, and kept so that synchronising tools "
        "learn it.",
    )
    updated_at = fields.Datetime(
        string="Updated at",
        readonly=True,
        index=True,
        help="Last change of this buyer's data: what a synchronisation asks "
        "for with updated_since.",
    )

    def _auto_init(self):
        # Versions before 18.0.1.1 had a SQL view of this name.
        if sql_tools.table_kind(self.env.cr, self._table) == sql_tools.TableKind.View:
            sql_tools.drop_view_if_exists(self.env.cr, self._table)
        return super()._auto_init()

    def init(self):
        cr = self.env.cr
        if cr.connection.server_version < buyer_sql.MIN_SERVER_VERSION:
            raise UserError(self.env._("The buyer list needs PostgreSQL 13 or later."))
        # The ids of the transactions that last changed the row and its
        # address: what the sync cursor compares (xid8 has no ORM field type).
        for column in ("write_xid", "email_changed_xid"):
            cr.execute(
                SQL(
                    "ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s xid8",
                    SQL.identifier(self._table),
                    SQL.identifier(column),
                )
            )
        sql_tools.create_index(
            cr, "coop_buyer_write_xid_index", self._table, ["write_xid"]
        )
        # The shop filter, in the order of the pages.
        sql_tools.create_index(
            cr, "coop_buyer_company_id_id_index", self._table, ["company_id", "id"]
        )
        # The cycle filter: is this customer a buyer of the cycle? One probe.
        sql_tools.create_index(
            cr,
            buyer_sql.CYCLE_INDEX,
            "sale_order",
            ["sale_cycle_id", "partner_id"],
            where="state = 'sale'",
        )
        cr.execute(
            SQL("DROP INDEX IF EXISTS %s", SQL.identifier(buyer_sql.FORMER_PAIR_INDEX))
        )
        # With INCLUDE, which create_index() does not write.
        cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS %s ON sale_order %s",
                SQL.identifier(buyer_sql.PAIR_INDEX),
                SQL(buyer_sql.PAIR_INDEX_DEFINITION),  # pylint: disable=sql-injection
            )
        )
        cr.execute(
            SQL("DROP FUNCTION IF EXISTS %s", SQL(buyer_sql.FORMER_REFRESH_FUNCTION))  # pylint: disable=sql-injection
        )
        for function in buyer_sql.FUNCTIONS:
            cr.execute(SQL(function))  # pylint: disable=sql-injection
        cr.execute(SQL(buyer_sql.create_triggers()))  # pylint: disable=sql-injection
        self._rebuild()

    def _rebuild(self):
        """Recompute every buyer from the orders, in two set-based statements.

        Writes only the rows that differ. Returns the numbers of buyers
        added, changed and removed.
        """
        cr = self.env.cr
        self.env.flush_all()
        cr.execute(
            SQL(
                "LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE", SQL.identifier(self._table)
            )
        )
        cr.execute(SQL(buyer_sql.REBUILD_UPSERT))  # pylint: disable=sql-injection
        written = [inserted for (inserted,) in cr.fetchall()]
        cr.execute(SQL(buyer_sql.REBUILD_TOMBSTONE))  # pylint: disable=sql-injection
        removed = cr.rowcount
        self.invalidate_model()
        added = sum(written)
        return {"added": added, "changed": len(written) - added, "removed": removed}

    def action_rebuild(self):
        """Rebuild the buyer list from the orders (administrators).

        The triggers keep it current; this repairs it after the triggers were
        disabled, e.g. for a bulk import. From ``odoo shell``:
        ``env["coop.buyer"].action_rebuild()``; over XML-RPC:
        ``execute_kw(db, uid, key, "coop.buyer", "action_rebuild", [[]])``.
        """
        if not self.env.is_system():
            raise AccessError(
                self.env._("Only administrators can rebuild the buyer list.")
            )
        counts = self.sudo()._rebuild()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Buyer list rebuilt"),
                "message": self.env._(
                    "%(added)s added, %(changed)s changed, %(removed)s removed.",
                    **counts,
                ),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }


def drop_maintenance(cr):
    """Remove the triggers and functions (uninstall)."""
    cr.execute(SQL(buyer_sql.DROP_ALL))  # pylint: disable=sql-injection
