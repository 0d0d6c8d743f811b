# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The sale cycle as a webhook source: the events of its transitions, when
they are too late to be sent, and their payloads."""

from datetime import timedelta

import pytz
from babel.dates import format_timedelta

from odoo import api, fields, models
from odoo.tools import html2plaintext, is_html_empty
from odoo.tools.misc import babel_locale_parse

from .coop_webhook_delivery import IN_FLIGHT

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
    """What the cycle tells the world: events, their staleness, payloads."""

    _inherit = "coop.sale.cycle"
    # Read by coop.webhook.event.type (which of its events can be late, and
    # which are reminders).
    _webhook_stale_event_types = frozenset(STALE_IN_STATES)
    _webhook_lead_time_events = LEAD_TIME_EVENTS

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

    @api.model
    def _send_due_reminders(self, cycles=None):
        """Send the reminders that fell due (of the given cycles, or all):
        see coop.webhook.reminder's _send_due."""
        self.env["coop.webhook.reminder"]._send_due(cycles)

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
        data.update(self._webhook_countdown(event_type, occurred_at))
        return data

    def _webhook_countdown(self, event_type, occurred_at):
        """The reminders' time left: {key: seconds, key_text: the same in
        words, in the shop's language}; {} for the other events."""
        lead_times = {
            "sale_cycle.closing_soon": ("time_left", self.date_close),
            "sale_cycle.opening_soon": ("time_to_open", self.date_open),
        }
        if event_type not in lead_times:
            return {}
        key, date = lead_times[event_type]
        seconds = max(0, int((date - occurred_at).total_seconds()))
        return {
            key: seconds,
            f"{key}_text": format_timedelta(
                timedelta(seconds=seconds),
                threshold=1,
                locale=babel_locale_parse(self.company_id.partner_id.lang or "en_US"),
            ),
        }

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


def _local_iso(moment, timezone):
    """A naive UTC datetime as ISO 8601 in timezone, with its offset."""
    try:
        zone = pytz.timezone(timezone)
    except pytz.UnknownTimeZoneError:
        zone = pytz.utc
    return pytz.utc.localize(moment).astimezone(zone).isoformat()
