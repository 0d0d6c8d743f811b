# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The buyer list API: a page of buyers and its cursors (HTTP and RPC)."""

import re
from datetime import datetime

from odoo import api, fields, models
from odoo.tools import SQL

from ..webhook.schemas import BUYER_PAGE_PARAMETERS, MAX_ID
from . import coop_buyer_sql as buyer_sql
from .coop_api_parameters import BuyerListError

MAX_XID = 2**63 - 1
# A cursor: version 1, the sync's lower bound (transaction id, 0 for none),
# the watermark of the listing's first page (0: not taken yet), the last id.
# ASCII digits only ("\d" takes any script's), matched whole (fullmatch).
CURSOR = re.compile(r"1\.([0-9]{1,20})\.([0-9]{1,20})\.([0-9]{1,10})")
# The cursors of earlier versions: the last id.
LEGACY_CURSOR = re.compile(r"[0-9]{1,10}")
# What a page reads of each buyer as stored; _page adds email_normalized as
# the API gives it (buyer_sql.SINGLE_ADDRESS) and email_changed_xid.
PAGE_COLUMNS = (
    ("id", "partner_id", "company_id")
    + tuple(
        column for column in buyer_sql.CONTENT_COLUMNS if column != "email_normalized"
    )
    + ("previous_email", "email_changed_at")
)


class CoopBuyer(models.Model):
    """One page of the buyer list, and its cursors."""

    _inherit = "coop.buyer"

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
        self._check_known_parameters(params, BUYER_PAGE_PARAMETERS)
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
