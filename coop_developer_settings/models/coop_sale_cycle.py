# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import logging
from datetime import timedelta

import psycopg2
import pytz
from babel.dates import format_timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import html2plaintext, is_html_empty, mute_logger
from odoo.tools.misc import babel_locale_parse

from ..webhook.schemas import MAX_ID
from .coop_webhook_delivery import IN_FLIGHT
from .coop_webhook_endpoint import MAX_LEAD_TIME_HOURS

_logger = logging.getLogger(__name__)

# GET /coop/api/v1/sale-cycles
CYCLE_PAGE_PARAMETERS = (
    "cursor",
    "limit",
    "state",
    "company_id",
    "date_from",
    "date_to",
)

# The mail subtype posted on the cycle when each event happens; followers
# of the cycle are notified through it.
EVENT_SUBTYPES = {
    "sale_cycle.opened": "coop_developer_settings.mt_sale_cycle_opened",
    "sale_cycle.closed": "coop_developer_settings.mt_sale_cycle_closed",
}
# Reminders: the state a cycle is in while the reminder is wanted, and the
# date it announces. Each endpoint chooses how long before that date.
LEAD_TIME_EVENTS = {
    "sale_cycle.opening_soon": ("scheduled", "date_open"),
    "sale_cycle.closing_soon": ("open", "date_close"),
}
# When an event about a cycle is too late to be sent: the cycle's states
# that make it stale. "closed" is never late.
STALE_IN_STATES = {
    "sale_cycle.opened": ("closed", "cancelled"),
    "sale_cycle.opening_soon": ("open", "closed", "cancelled"),
    "sale_cycle.closing_soon": ("closed", "cancelled"),
}


class CoopSaleCycle(models.Model):
    """A selling window of the shop: prepared, opened, then closed."""

    _name = "coop.sale.cycle"
    _description = "Sale cycle"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "date_open desc, id desc"
    _check_company_auto = True
    # Read by coop.webhook.event.type (which of its events can be late, and
    # which are reminders).
    _webhook_stale_event_types = frozenset(STALE_IN_STATES)
    _webhook_lead_time_events = LEAD_TIME_EVENTS

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

    def _emit_event(self, event_type):
        """Tell the world that the cycles went through a transition.

        The event's mail subtype notifies the cycle's followers; the webhook
        deliveries are written in this same transaction (outbox).
        """
        subtype = self.env.ref(EVENT_SUBTYPES[event_type])
        self._post(subtype.description, subtype_id=subtype.id)
        self.env["coop.webhook.event"]._record(
            event_type, [(cycle, None) for cycle in self]
        )._deliver()

    def _expire_stale_deliveries(self):
        """At a transition, all at once: the deliveries of these cycles'
        events still to be sent that are now too late end expired.

        Those being sent at this very moment are locked by their job: left
        to it (it checks again before any further attempt), so that a
        transition never waits for a slow receiver.
        """
        self.env["coop.webhook.delivery"].sudo().search(
            [
                ("event_id.res_model", "=", self._name),
                ("event_id.res_id", "in", self.ids),
                ("event_type", "in", list(STALE_IN_STATES)),
                ("state", "in", IN_FLIGHT),
            ]
        )._lock(skip_locked=True)._expire_stale()

    def _webhook_stale_reasons(self, event_type):
        """{cycle id: reason} for those of these cycles about which an event
        of event_type is too late to be sent."""
        states = STALE_IN_STATES.get(event_type, ())
        reasons = {
            "open": self.env._("The sale cycle opened before it was sent."),
            "closed": self.env._("The sale cycle closed before it was sent."),
            "cancelled": self.env._("The sale cycle was cancelled before it was sent."),
        }
        return {
            cycle.id: reasons[cycle.state] for cycle in self if cycle.state in states
        }

    # ------------------------------------------------------------------
    # Reminders (lead-time events)
    # ------------------------------------------------------------------

    @api.model
    def _send_due_reminders(self, cycles=None):
        """Send the reminders that fell due (of the given cycles, or all).

        For each endpoint of sale_cycle.opening_soon / closing_soon: each
        cycle in the reminder's state whose date is within the endpoint's
        lead time ahead, and not past. Once per endpoint, cycle and date
        (coop.webhook.reminder), whoever runs this at the same time; after an
        outage, the reminders still relevant are caught up (the date has not
        passed, the state still holds); a moved date is a new reminder.
        """
        now = fields.Datetime.now()
        Endpoint = self.env["coop.webhook.endpoint"].sudo()
        Reminder = self.env["coop.webhook.reminder"].sudo()
        Event = self.env["coop.webhook.event"]
        for event_type, (state, date_field) in LEAD_TIME_EVENTS.items():
            domain = [
                ("state", "=", state),
                (date_field, ">", now),
                (date_field, "<=", now + timedelta(hours=MAX_LEAD_TIME_HOURS)),
            ]
            if cycles is not None:
                domain.append(("id", "in", cycles.ids))
            by_company = self.sudo().search(domain, order="id").grouped("company_id")
            for company, company_cycles in by_company.items():
                endpoints = Endpoint.search(
                    [
                        ("event_type", "=", event_type),
                        *Endpoint._recipient_domain(company),
                    ],
                    order="id",
                )
                # Always in the same order: concurrent claims never deadlock.
                due = [
                    (endpoint, cycle)
                    for endpoint in endpoints
                    for cycle in company_cycles
                    if cycle[date_field] - timedelta(hours=endpoint.lead_time_hours)
                    <= now
                ]
                try:
                    # A claim lost to a concurrent transaction is expected.
                    with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                        claimed = Reminder._claim(event_type, due, date_field)
                except psycopg2.extensions.TransactionRollbackError as exc:
                    _logger.info(
                        "%s reminders of company %s sent by another transaction: %s",
                        event_type,
                        company.id,
                        exc,
                    )
                    continue
                events = Event._record(
                    event_type, [(cycle, endpoint) for endpoint, cycle in claimed]
                )
                Reminder._link_events(event_type, date_field, events)
                events._deliver()

    # ------------------------------------------------------------------
    # Webhook payloads (no personal data of buyers)
    # ------------------------------------------------------------------

    def _webhook_data(self, event_type, occurred_at):
        """The data of an event of event_type about this cycle, happening at
        occurred_at (UTC): the one place each payload is built. The README's
        event catalogue documents them, with an example each.

        Every sale_cycle.* event:
          id, name, state, description_html, description_text (null when
          empty), date_open, date_close, opened_at, closed_at (UTC,
          "YYYY-MM-DD HH:MM:SS", null when not yet), timezone (the shop's:
          its company's contact timezone, else UTC), date_open_local,
          date_close_local (ISO 8601 with that timezone's offset), shop_url,
          company {id, name} (the shop), occurred_at (UTC).
        sale_cycle.closed adds order_count, buyer_count, amount_total,
          currency (the shop's).
        sale_cycle.closing_soon adds time_left (seconds until date_close)
          and time_left_text (e.g. "23 hours", in the shop's language).
        sale_cycle.opening_soon adds time_to_open (seconds until date_open)
          and time_to_open_text.
        """
        self.ensure_one()
        to_string = fields.Datetime.to_string
        shop = self.company_id.partner_id
        timezone = shop.tz or "UTC"
        description = None if is_html_empty(self.description) else self.description
        data = {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "description_html": description and str(description),
            "description_text": description and html2plaintext(description),
            "date_open": to_string(self.date_open),
            "date_close": to_string(self.date_close),
            "timezone": timezone,
            "date_open_local": _local_iso(self.date_open, timezone),
            "date_close_local": _local_iso(self.date_close, timezone),
            "opened_at": to_string(self.opened_at) if self.opened_at else None,
            "closed_at": to_string(self.closed_at) if self.closed_at else None,
            "shop_url": self.shop_url or None,
            "company": {"id": self.company_id.id, "name": self.company_id.name},
            "occurred_at": to_string(occurred_at),
        }
        if event_type == "sale_cycle.closed":
            # The sales team's fields: the system builds the event, whoever
            # caused it (a test event's owner may have no sales rights).
            figures = self.sudo()
            data.update(
                order_count=figures.order_count,
                buyer_count=figures.buyer_count,
                amount_total=self.currency_id.round(figures.amount_total),
                currency=self.currency_id.name,
            )
        lead_times = {
            "sale_cycle.closing_soon": ("time_left", self.date_close),
            "sale_cycle.opening_soon": ("time_to_open", self.date_open),
        }
        if event_type in lead_times:
            key, date = lead_times[event_type]
            seconds = max(0, int((date - occurred_at).total_seconds()))
            data[key] = seconds
            data[f"{key}_text"] = format_timedelta(
                timedelta(seconds=seconds),
                threshold=1,
                locale=babel_locale_parse(shop.lang or "en_US"),
            )
        return data

    @api.model
    def _webhook_sample(self, event_type, user):
        """A realistic sample for a test event: (its company, its data), from
        the user's latest cycle, else from a made-up one."""
        now = fields.Datetime.now()
        cycle = self.sudo().search(
            [("company_id", "in", user.company_ids.ids)], limit=1
        )
        if cycle:
            return cycle.company_id, cycle._webhook_data(event_type, now)
        sample = self.new(
            {
                "name": self.env._("Sample sale cycle"),
                "company_id": user.company_id.id,
                "state": "open",
                "date_open": now - timedelta(days=1),
                "opened_at": now - timedelta(days=1),
                "date_close": now + timedelta(hours=20),
            }
        )
        return user.company_id, {**sample._webhook_data(event_type, now), "id": 0}

    # ------------------------------------------------------------------
    # The sale cycle list API, for a tool's "pick a cycle"
    # ------------------------------------------------------------------

    @api.model
    def _cycle_page(self, **params):
        """One page of the cycles the user may read (their shops', by the
        record rule): what ``GET /coop/api/v1/sale-cycles`` answers. Filters:
        state, company_id, and date_from/date_to (the cycles open at some
        time between them). In id order; ``next_cursor`` is the next page."""
        parser = self.env["coop.buyer"]  # the API's parameters, parsed once
        parser._check_known_parameters(params, CYCLE_PAGE_PARAMETERS)
        after_id = parser._parse_whole_number(params, "cursor", 1, MAX_ID, default=0)
        limit = parser._parse_limit(params)
        domain = [("id", ">", after_id)]
        state = params.get("state")
        if state not in (None, "", False):
            states = [value for value, _label in self._fields["state"].selection]
            if state not in states:
                raise parser._bad_parameter(
                    self.env._(
                        "state must be one of %(states)s.", states=", ".join(states)
                    )
                )
            domain.append(("state", "=", state))
        company_id = parser._parse_company_id(params)
        if company_id:
            domain.append(("company_id", "=", company_id))
        date_from = parser._parse_datetime(params, "date_from")
        if date_from is not None:
            domain.append(("date_close", ">=", date_from))
        date_to = parser._parse_datetime(params, "date_to")
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
                # A race lost to another worker is expected, not a query error.
                with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                    cycle._lock_for_transition()
                    # Someone else may have moved it since the search.
                    if cycle.filtered_domain(domain):
                        getattr(cycle, method)()
            except (UserError, psycopg2.errors.SerializationFailure) as exc:
                _logger.info("sale cycle %s skipped by the cron: %s", cycle.id, exc)


def _local_iso(moment, timezone):
    """A naive UTC datetime as ISO 8601 in timezone, with its offset."""
    try:
        zone = pytz.timezone(timezone)
    except pytz.UnknownTimeZoneError:
        zone = pytz.utc
    return pytz.utc.localize(moment).astimezone(zone).isoformat()
