# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import re
from datetime import datetime, timezone

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL
from odoo.tools import sql as sql_tools

from . import coop_buyer_sql as buyer_sql

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_ID = 2**31 - 1  # PostgreSQL integer
MAX_XID = 2**63 - 1
PAGE_PARAMETERS = (
    "cursor",
    "limit",
    "company_id",
    "cycle_id",
    "updated_since",
    "include_opted_out",
)
# A cursor: version 1, the sync's lower bound (transaction id, 0 for none),
# the watermark of the listing's first page (0: not taken yet), the last id.
# ASCII digits only ("\d" takes any script's), matched whole (fullmatch).
CURSOR = re.compile(r"1\.([0-9]{1,20})\.([0-9]{1,20})\.([0-9]{1,10})")
# The cursors of earlier versions: the last id.
LEGACY_CURSOR = re.compile(r"[0-9]{1,10}")
WHOLE_NUMBER = re.compile(r"[0-9]{1,10}")
# What a page reads of each buyer as stored; _page adds email_normalized as
# the API gives it (buyer_sql.SINGLE_ADDRESS) and email_changed_xid.
PAGE_COLUMNS = (
    ("id", "partner_id", "company_id")
    + tuple(
        column for column in buyer_sql.CONTENT_COLUMNS if column != "email_normalized"
    )
    + ("previous_email", "email_changed_at")
)


class BuyerListError(UserError):
    """A bad request to the buyer list; the HTTP API answers it as JSON."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code = status, code


class CoopBuyer(models.Model):
    """One row per shop (company) and customer with a confirmed order.

    The list newsletter tools import and keep in sync. A table, kept current
    by PostgreSQL triggers in the transaction of every change it depends on
    (see coop_buyer_sql.py); read-only for everyone.
    """

    _name = "coop.buyer"
    _description = "Buyer"
    _order = "id"
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

    # ------------------------------------------------------------------
    # The table and its maintenance
    # ------------------------------------------------------------------

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
        sql_tools.create_index(
            cr,
            buyer_sql.PAIR_INDEX,
            "sale_order",
            list(buyer_sql.PAIR_INDEX_COLUMNS),
            where=buyer_sql.PAIR_INDEX_WHERE,
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

    # ------------------------------------------------------------------
    # The buyer list API (HTTP and RPC)
    # ------------------------------------------------------------------

    @api.model
    def buyer_page(self, **params):
        """One page of the buyer list, for XML-RPC/JSON-RPC clients: what
        ``GET /coop/api/v1/buyers`` answers, with the same parameters, absent
        values false (as Odoo's ``read`` gives them: XML-RPC has no null)."""
        return rpc_values(self._buyer_page(**params))

    @api.model
    def _buyer_page(self, **params):
        """One page of the buyer list: what ``GET /coop/api/v1/buyers``
        answers, with the same parameters.

        Without ``updated_since`` and without a sync cursor, the current
        buyers (opted-out ones on request). With either, every buyer changed
        since: opted-out ones flagged, removed ones as tombstones. Each answer
        carries ``next_cursor`` (the next page, or None) and ``sync_cursor``:
        passed as ``cursor`` next time, it returns what changed since this
        listing began, missing nothing even when transactions commit out of
        order.
        """
        self._check_known_parameters(params, PAGE_PARAMETERS)
        since, watermark, after_id = self._parse_cursor(params.get("cursor"))
        limit = self._parse_limit(params)
        updated_since = self._parse_datetime(params, "updated_since")
        include_opted_out = self._parse_bool(params, "include_opted_out")
        changes = bool(since) or updated_since is not None
        domain = [("id", ">", after_id)] + self._scope_domain(params)
        if updated_since is not None:
            domain.append(("updated_at", ">=", updated_since))
        if not changes and not include_opted_out:
            domain.append(("opt_out", "=", False))
        if not watermark:
            watermark = self._sync_watermark()
        rows = self._page(domain, since, limit + 1, removed=changes)
        for row in rows:
            # The address the tool knew, if it changed since then.
            changed = (since and row["email_changed_xid"] >= since) or (
                updated_since is not None
                and (row["email_changed_at"] or datetime.min) >= updated_since
            )
            if not changed:
                row["previous_email"] = None
        page, more = rows[:limit], len(rows) > limit
        return {
            "data": [api_json(row) for row in page],
            "next_cursor": (
                f"1.{since}.{watermark}.{page[-1]['id']}" if more else None
            ),
            "sync_cursor": f"1.{watermark}.0.0",
        }

    @api.model
    def _sync_watermark(self):
        """The oldest transaction still running when this snapshot was taken.

        Every change this snapshot cannot see was written by a transaction
        with an id at least this one: the next sync, which returns the rows
        written by such transactions, misses none (and may return some rows
        again).
        """
        [(watermark,)] = self.env.execute_query(
            SQL("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
        )
        return int(watermark)

    @api.model
    def _page(self, domain, since, limit, removed):
        """The rows of the buyers of the domain (record rules applied),
        written by transaction ``since`` or later, in the order of the
        cursor; removed ones too if asked. Each with ``company_name`` and
        ``cycle_name`` (of its last cycle, None without one)."""
        model = self.with_context(active_test=not removed)
        query = model._search(domain, limit=limit, order="id")
        if since:
            query.add_where(
                SQL(
                    "%s >= %s::xid8",
                    SQL.identifier(self._table, "write_xid"),
                    str(since),
                )
            )
        # The values as stored, without the ORM's records: a page of 1 000
        # buyers is read in one query and no per-field overhead, with the
        # names of their shops and cycles (readers of buyers need no access
        # to cycles): every query is a round trip of the request.
        address = SQL(buyer_sql.SINGLE_ADDRESS.format(row=self._table))  # pylint: disable=sql-injection
        page = query.select(
            *(SQL.identifier(self._table, column) for column in PAGE_COLUMNS),
            SQL("%s AS email_normalized", address),
            SQL(
                "COALESCE(%s::text::numeric, 0) AS email_changed_xid",
                SQL.identifier(self._table, "email_changed_xid"),
            ),
        )
        return self.env.execute_query_dict(
            SQL(
                """SELECT page.*, company.name AS company_name,
                          cycle.name AS cycle_name
                     FROM (%s) AS page
                     JOIN res_company company ON company.id = page.company_id
                     LEFT JOIN coop_sale_cycle cycle ON cycle.id = page.last_cycle_id
                    ORDER BY page.id""",
                page,
            )
        )

    @api.model
    def _scope_domain(self, params):
        """The shop and cycle filters, checked against the user's shops."""
        domain = []
        user_companies = self.env["res.company"].browse(
            self.env.user._get_company_ids()
        )
        company_id = self._parse_company_id(params)
        if company_id:
            domain.append(("company_id", "=", company_id))
        cycle_id = self._parse_whole_number(params, "cycle_id", 1, MAX_ID)
        if cycle_id:
            cycle = self.env["coop.sale.cycle"].sudo().browse(cycle_id).exists()
            if not cycle or cycle.company_id not in user_companies:
                raise BuyerListError(
                    404,
                    "cycle_not_found",
                    self.env._("No sale cycle %(id)s.", id=cycle_id),
                )
            # The customers with a confirmed order in the cycle, as a
            # sub-query (sudo: readers of buyers need no access to orders).
            orders = (
                self.env["sale.order"]
                .sudo()
                ._search([("sale_cycle_id", "=", cycle.id), ("state", "=", "sale")])
            )
            domain += [
                ("company_id", "=", cycle.company_id.id),
                ("partner_id", "in", orders.subselect("partner_id")),
            ]
        return domain

    # ------------------------------------------------------------------
    # Parameters: strings from the query string, or JSON values over RPC
    # ------------------------------------------------------------------

    # The sale cycle list (coop.sale.cycle._cycle_page) parses its own
    # parameters with these too.

    def _bad_parameter(self, message):
        return BuyerListError(400, "invalid_parameter", message)

    def _check_known_parameters(self, params, known):
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise self._bad_parameter(
                self.env._(
                    "Unknown parameter %(names)s; use %(known)s.",
                    names=", ".join(unknown),
                    known=", ".join(known),
                )
            )

    def _parse_cursor(self, raw):
        """(since, watermark, after_id) of a cursor of this API."""
        raw = "" if raw in (None, False) else str(raw)
        if not raw:
            return 0, 0, 0
        if LEGACY_CURSOR.fullmatch(raw) and int(raw) <= MAX_ID:
            return 0, 0, int(raw)
        match = CURSOR.fullmatch(raw)
        if match:
            since, watermark, after_id = (int(group) for group in match.groups())
            if since <= MAX_XID and watermark <= MAX_XID and after_id <= MAX_ID:
                return since, watermark, after_id
        raise self._bad_parameter(
            self.env._(
                "cursor must be the next_cursor or sync_cursor of an earlier answer."
            )
        )

    def _parse_limit(self, params):
        return self._parse_whole_number(
            params, "limit", 1, MAX_LIMIT, default=DEFAULT_LIMIT
        )

    def _parse_company_id(self, params):
        """The company_id filter: one of the user's shops, or None."""
        company_id = self._parse_whole_number(params, "company_id", 1, MAX_ID)
        if company_id and company_id not in self.env.user._get_company_ids():
            raise BuyerListError(
                403,
                "company_forbidden",
                self.env._("You are not allowed on company %(id)s.", id=company_id),
            )
        return company_id

    def _parse_whole_number(self, params, name, minimum, maximum, default=None):
        raw = params.get(name)
        if raw in (None, "", False):
            return default
        if isinstance(raw, bool) or not WHOLE_NUMBER.fullmatch(str(raw)):
            value = None
        else:
            value = int(raw)
        if value is None or not minimum <= value <= maximum:
            bounds = f"{minimum}..{maximum}"
            raise self._bad_parameter(
                self.env._(
                    "%(name)s must be a whole number (%(bounds)s).",
                    name=name,
                    bounds=bounds,
                )
            )
        return value

    def _parse_datetime(self, params, name):
        raw = params.get(name)
        if raw in (None, "", False):
            return None
        try:
            value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            if value.tzinfo:  # Odoo stores naive UTC
                value = value.astimezone(timezone.utc).replace(tzinfo=None)
        except (ValueError, OverflowError):
            raise self._bad_parameter(
                self.env._(
                    "%(name)s must be an ISO-8601 date-time, "
                    "e.g. 2026-11-28T08:00:00Z.",
                    name=name,
                )
            ) from None
        return value

    def _parse_bool(self, params, name):
        raw = params.get(name)
        if isinstance(raw, bool):
            return raw
        raw = str(raw or "false").lower()
        if raw not in ("true", "false", "1", "0"):
            raise self._bad_parameter(
                self.env._("%(name)s must be true or false.", name=name)
            )
        return raw in ("true", "1")


def api_json(row):
    """A buyer as the API shows it, from its row of ``_page()``; a removed
    one as a tombstone (what a tool needs to unsubscribe it)."""
    company = {"id": row["company_id"], "name": row["company_name"]}
    if not row["active"]:
        return {
            "id": row["id"],
            "removed": True,
            "partner_id": row["partner_id"],
            "email": row["email"] or None,
            "email_normalized": row["email_normalized"],
            "previous_email": row["previous_email"],
            "company": company,
        }
    cycle_id = row["last_cycle_id"]
    return {
        "id": row["id"],
        "removed": False,
        "partner_id": row["partner_id"],
        "name": row["name"],
        "email": row["email"] or None,
        "email_normalized": row["email_normalized"],
        "previous_email": row["previous_email"],
        "phone": row["phone"] or None,
        "company": company,
        "first_order_date": fields.Datetime.to_string(row["first_order_date"]),
        "last_order_date": fields.Datetime.to_string(row["last_order_date"]),
        "order_count": row["order_count"],
        "last_cycle": (
            {"id": cycle_id, "name": row["cycle_name"]} if cycle_id else None
        ),
        "opt_out": bool(row["opt_out"]),
    }


def rpc_values(value):
    """``value`` with None as False, for XML-RPC."""
    if value is None:
        return False
    if isinstance(value, dict):
        return {key: rpc_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rpc_values(item) for item in value]
    return value


def drop_maintenance(cr):
    """Remove the triggers and functions (uninstall)."""
    cr.execute(SQL(buyer_sql.DROP_ALL))  # pylint: disable=sql-injection
