# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The sale cycle: a selling window of the shop, its transitions, its
schedule and its list API. What it sends to webhooks is in
coop_sale_cycle_webhook.py."""

import logging

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..webhook.schemas import MAX_ID, SALE_CYCLE_PAGE_PARAMETERS

_logger = logging.getLogger(__name__)


class CoopSaleCycle(models.Model):
    """A selling window of the shop: prepared, opened, then closed."""

    _name = "coop.sale.cycle"
    _description = "Sale cycle"
    _inherit = ["mail.thread", "mail.activity.mixin", "coop.api.parameters"]
    _order = "date_open desc, id desc"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    company_id = fields.Many2one(
        "res.company",
        string="Shop",
        required=True,
        index=True,
        default=lambda self: self.env.company,
        tracking=True,
        help="The company whose shop runs this cycle.",
    )
    date_open = fields.Datetime(
        string="Opens on",
        required=True,
        tracking=True,
        help="When the cycle opens and orders are taken.",
    )
    date_close = fields.Datetime(
        string="Closes on",
        required=True,
        tracking=True,
        help="When the cycle closes; orders are then prepared and delivered.",
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("scheduled", "Scheduled"),
            ("open", "Open"),
            ("closed", "Closed"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        help="Every change of state is logged in the chatter.",
    )
    opened_at = fields.Datetime(
        string="Opened at",
        readonly=True,
        copy=False,
        help="When the cycle really opened.",
    )
    closed_at = fields.Datetime(
        string="Closed at",
        readonly=True,
        copy=False,
        help="When the cycle really closed.",
    )
    description = fields.Html()
    shop_url = fields.Char(
        string="Shop URL",
        help="Public link shown to buyers, e.g. the website shop page.",
    )
    # Users of the Developer settings read the cycles, not the orders.
    order_ids = fields.One2many(
        "sale.order",
        "sale_cycle_id",
        string="Orders",
        groups="sales_team.group_sale_salesman",
    )
    # The cycle's figures are computed over every order (sudo): the sales
    # team's too, not the integrators'.
    order_count = fields.Integer(
        string="Number of orders",
        compute="_compute_order_stats",
        groups="sales_team.group_sale_salesman",
    )
    buyer_count = fields.Integer(
        string="Number of buyers",
        compute="_compute_order_stats",
        groups="sales_team.group_sale_salesman",
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    amount_total = fields.Monetary(
        string="Total",
        compute="_compute_order_stats",
        currency_field="currency_id",
        groups="sales_team.group_sale_salesman",
        help="Total of the confirmed orders, in the shop's currency.",
    )

    @api.constrains("date_open", "date_close")
    def _check_dates(self):
        for cycle in self:
            if cycle.date_close <= cycle.date_open:
                raise ValidationError(
                    self.env._(
                        "Sale cycle %(name)s must close after it opens.",
                        name=cycle.name,
                    )
                )

    @api.constrains("shop_url")
    def _check_shop_url(self):
        for cycle in self.filtered("shop_url"):
            if not cycle.shop_url.startswith(("https://", "http://")):
                raise ValidationError(
                    self.env._(
                        "The shop URL of sale cycle %(name)s must start with "
                        "https:// or http://.",
                        name=cycle.name,
                    )
                )

    def _confirmed_orders_domain(self):
        return [("sale_cycle_id", "in", self.ids), ("state", "=", "sale")]

    @api.depends("order_ids.state", "order_ids.amount_total", "order_ids.partner_id")
    def _compute_order_stats(self):
        # Figures of the whole cycle, whatever orders the reader may open:
        # sudo, restricted to these cycles' confirmed orders.
        orders = self.env["sale.order"].sudo()
        domain = self._confirmed_orders_domain()
        totals = {cycle: [0, 0.0] for cycle in self}
        for cycle, currency, count, amount in orders._read_group(
            domain, ["sale_cycle_id", "currency_id"], ["__count", "amount_total:sum"]
        ):
            totals[cycle][0] += count
            totals[cycle][1] += currency._convert(
                amount, cycle.currency_id, cycle.company_id, fields.Date.today()
            )
        buyers = dict(
            orders._read_group(domain, ["sale_cycle_id"], ["partner_id:count_distinct"])
        )
        for cycle in self:
            cycle.order_count, cycle.amount_total = totals[cycle]
            cycle.buyer_count = buyers.get(cycle, 0)

    def action_view_orders(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sale.action_orders")
        action["domain"] = [("sale_cycle_id", "=", self.id)]
        action["context"] = {"default_sale_cycle_id": self.id}
        return action

    def action_view_buyers(self):
        self.ensure_one()
        buyers = (
            self.env["sale.order"]
            .sudo()
            .search(self._confirmed_orders_domain())
            .partner_id
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Buyers of %(cycle)s", cycle=self.name),
            "res_model": "res.partner",
            "view_mode": "list,form",
            "domain": [("id", "in", buyers.ids)],
        }

    # ------------------------------------------------------------------
    # Transitions
    # ------------------------------------------------------------------

    def _lock_for_transition(self):
        """Lock the rows, then re-read their state from the database.

        Two cron workers, or a user and the cron, may move the same cycle at
        once: the second one waits for the first and then sees its result
        (or PostgreSQL refuses it as a concurrent update), so each event is
        emitted once.
        """
        if not self:
            return
        self.flush_recordset()
        self.env.cr.execute(
            "SELECT id FROM coop_sale_cycle WHERE id IN %s FOR NO KEY UPDATE",
            [tuple(self.ids)],
            # A refusal is expected (above), not a query error; not
            # mute_logger: it mutes every thread of the process.
            log_exceptions=False,
        )
        self.invalidate_recordset(["state", "opened_at", "closed_at"])

    def _refuse_unless(self, states, message):
        """UserError for the first cycle not in states.

        message is translated and holds %(name)s and %(state)s.
        """
        for cycle in self:
            if cycle.state not in states:
                labels = dict(self._fields["state"]._description_selection(self.env))
                raise UserError(
                    message % {"name": cycle.name, "state": labels[cycle.state]}
                )

    def _post(self, body, **kwargs):
        """Post on the cycles' chatter, as the current user, even when the
        user has no email address: a transition never fails on its message.

        message_post refuses an author without an email, except in superuser
        mode; the author stays the user who made the transition.
        """
        for cycle in self.sudo():
            cycle.message_post(
                body=body, author_id=self.env.user.partner_id.id, **kwargs
            )

    def _log_transition(self, message):
        self._post(message, subtype_xmlid="mail.mt_note")

    def action_schedule(self):
        self._lock_for_transition()
        self._refuse_unless(
            ("draft",),
            self.env._(
                "Sale cycle %(name)s is %(state)s: only a draft cycle can be scheduled."
            ),
        )
        self.write({"state": "scheduled"})
        self._log_transition(self.env._("Sale cycle scheduled."))
        self._send_due_reminders(self)
        return True

    def action_open(self):
        """Open the cycles: the single place the "opened" event is emitted."""
        self._lock_for_transition()
        self._refuse_unless(
            ("draft", "scheduled"),
            self.env._(
                "Sale cycle %(name)s is %(state)s: only a draft or scheduled cycle "
                "can be opened."
            ),
        )
        self.write({"state": "open", "opened_at": fields.Datetime.now()})
        self._expire_stale_deliveries()
        self._emit_event("sale_cycle.opened")
        self._send_due_reminders(self)
        return True

    def action_close(self):
        """Close the cycles: the single place the "closed" event is emitted."""
        self._lock_for_transition()
        self._refuse_unless(
            ("open",),
            self.env._(
                "Sale cycle %(name)s is %(state)s: only an open cycle can be closed."
            ),
        )
        self.write({"state": "closed", "closed_at": fields.Datetime.now()})
        self._expire_stale_deliveries()
        self._emit_event("sale_cycle.closed")
        return True

    def action_cancel(self):
        self._lock_for_transition()
        self._refuse_unless(
            ("draft", "scheduled", "open"),
            self.env._(
                "Sale cycle %(name)s is %(state)s: only a draft, scheduled or open "
                "cycle can be cancelled."
            ),
        )
        self.write({"state": "cancelled"})
        self._expire_stale_deliveries()
        self._log_transition(self.env._("Sale cycle cancelled."))
        return True

    def action_reset_to_draft(self):
        self._lock_for_transition()
        self._refuse_unless(
            ("scheduled", "cancelled"),
            self.env._(
                "Sale cycle %(name)s is %(state)s: only a scheduled or cancelled "
                "cycle can be reset to draft."
            ),
        )
        self.write({"state": "draft", "opened_at": False, "closed_at": False})
        self._log_transition(self.env._("Sale cycle reset to draft."))
        return True

    # ------------------------------------------------------------------
    # The sale cycle list API, for a tool's "pick a cycle"
    # ------------------------------------------------------------------

    @api.model
    def _cycle_page(self, **params):
        """One page of the cycles the user may read (their shops', by the
        record rule): what ``GET /coop/api/v1/sale-cycles`` answers. Filters:
        state, company_id, and date_from/date_to (the cycles open at some
        time between them). In id order; ``next_cursor`` is the next page."""
        self._check_known_parameters(params, SALE_CYCLE_PAGE_PARAMETERS)
        after_id = self._parse_whole_number(params, "cursor", 1, MAX_ID, default=0)
        limit = self._parse_limit(params)
        domain = [("id", ">", after_id)]
        state = params.get("state")
        if state not in (None, "", False):
            states = [value for value, _label in self._fields["state"].selection]
            if state not in states:
                raise self._bad_parameter(
                    self.env._(
                        "state must be one of %(states)s.", states=", ".join(states)
                    )
                )
            domain.append(("state", "=", state))
        company_id = self._parse_company_id(params)
        if company_id:
            domain.append(("company_id", "=", company_id))
        date_from = self._parse_datetime(params, "date_from")
        if date_from is not None:
            domain.append(("date_close", ">=", date_from))
        date_to = self._parse_datetime(params, "date_to")
        if date_to is not None:
            domain.append(("date_open", "<=", date_to))
        cycles = self.search(domain, limit=limit + 1, order="id")
        page, more = cycles[:limit], len(cycles) > limit
        return {
            "data": [cycle._api_json() for cycle in page],
            "next_cursor": str(page[-1].id) if more else None,
        }

    def _api_json(self):
        to_string = fields.Datetime.to_string
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "company": {"id": self.company_id.id, "name": self.company_id.name},
            "date_open": to_string(self.date_open),
            "date_close": to_string(self.date_close),
            "opened_at": to_string(self.opened_at) if self.opened_at else None,
            "closed_at": to_string(self.closed_at) if self.closed_at else None,
            "shop_url": self.shop_url or None,
        }

    # ------------------------------------------------------------------
    # Scheduling
    # ------------------------------------------------------------------

    @api.model
    def _cron_process_due_cycles(self):
        """Open the scheduled cycles and close the open ones that are due,
        then send the reminders that fell due.

        No lower bound on the dates: cycles missed while the server was down,
        for however long, are caught up. Opening runs first, so a cycle whose
        two dates passed meanwhile is opened, then closed; the reminders come
        last, so none is sent about a cycle that has just moved past it.
        """
        now = fields.Datetime.now()
        self._process_due(
            [("state", "=", "scheduled"), ("date_open", "<=", now)], "action_open"
        )
        self._process_due(
            [("state", "=", "open"), ("date_close", "<=", now)], "action_close"
        )
        self._send_due_reminders()

    def _process_due(self, domain, method):
        for cycle in self.search(domain, order="date_open, id"):
            try:
                # A race lost to another worker (refused at the lock) is
                # expected: logged below, not as a query error.
                with self.env.cr.savepoint():
                    cycle._lock_for_transition()
                    # Someone else may have moved it since the search.
                    if cycle.filtered_domain(domain):
                        getattr(cycle, method)()
            except (UserError, psycopg2.errors.SerializationFailure) as exc:
                _logger.info("sale cycle %s skipped by the cron: %s", cycle.id, exc)
