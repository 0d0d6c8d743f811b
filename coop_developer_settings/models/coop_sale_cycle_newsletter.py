# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A sale cycle's events also send the newsletters of the connections of
its shop (coop.newsletter.campaign), in the event's transaction, with the
webhooks' rules: stale events are not sent, a moved date re-arms the
reminders."""

import logging
from datetime import timedelta

import psycopg2
import pytz
from babel.dates import format_date, format_time

from odoo import api, fields, models
from odoo.tools import html2plaintext, is_html_empty
from odoo.tools.misc import babel_locale_parse

from ..webhook.schemas import MAX_LEAD_TIME_HOURS
from .coop_newsletter_campaign import ACTIVE_STATES
from .coop_sale_cycle_webhook import LEAD_TIME_EVENTS

_logger = logging.getLogger(__name__)

# The events sent at a transition (the reminders come from the cron).
TRANSITION_EVENTS = ("sale_cycle.opened", "sale_cycle.closed")


class CoopSaleCycle(models.Model):
    _inherit = "coop.sale.cycle"

    def _emit_event(self, event_type):
        result = super()._emit_event(event_type)
        if event_type in TRANSITION_EVENTS:
            self._claim_newsletters(event_type, fields.Datetime.now())
        return result

    # "values", as mail.thread names it: the JSON-2 API binds a call's named
    # arguments to the signature of the model's last override.
    def write(self, values):
        result = super().write(values)
        if {"date_open", "date_close"} & set(values):
            # An "opens soon" / "closes soon" newsletter of the former date
            # is cancelled; the new date's comes at its lead time.
            self._check_newsletters(list(LEAD_TIME_EVENTS))
        return result

    def _expire_stale_deliveries(self):
        """At a transition, the newsletters about these cycles still to be
        sent get a job that cancels those now too late (at the provider if
        they are scheduled there), with the reason."""
        result = super()._expire_stale_deliveries()
        self._check_newsletters()
        return result

    def _check_newsletters(self, event_types=None):
        """A job for each newsletter of these cycles still to be sent (of
        those event types): it cancels those now too late or out of date."""
        domain = [("sale_cycle_id", "in", self.ids), ("state", "in", ACTIVE_STATES)]
        if event_types:
            domain.append(("event_type", "in", event_types))
        self.env["coop.newsletter.campaign"].sudo().search(domain)._enqueue(
            identity=False
        )

    @api.model
    def _send_due_reminders(self, cycles=None):
        result = super()._send_due_reminders(cycles)
        self._claim_due_newsletter_reminders(cycles)
        return result

    def _claim_newsletters(self, event_type, occurred_at, date_field=None):
        """Claim the newsletters of event_type about these cycles: one per
        connection of their shop that sends a newsletter at that event (and
        whose owner is still allowed on the shop); for a reminder, only
        once its lead time is reached."""
        Campaign = self.env["coop.newsletter.campaign"]
        rules = Campaign._due_rules(event_type, self.company_id)
        due = [
            (rule, cycle)
            for rule in rules
            for cycle in self
            if rule.connection_id.company_id == cycle.company_id
            and cycle.company_id in rule.connection_id.user_id.company_ids
            and (
                not date_field
                or cycle[date_field] - timedelta(hours=rule.lead_time_hours)
                <= occurred_at
            )
        ]
        return Campaign._claim(event_type, due, occurred_at, date_field)

    @api.model
    def _claim_due_newsletter_reminders(self, cycles=None):
        """The newsletters of opening_soon / closing_soon that fell due,
        once per connection, cycle and date, whoever runs this at the same
        time (a claim lost to another transaction is theirs)."""
        now = fields.Datetime.now()
        for event_type, (state, date_field) in LEAD_TIME_EVENTS.items():
            domain = [
                ("state", "=", state),
                (date_field, ">", now),
                (date_field, "<=", now + timedelta(hours=MAX_LEAD_TIME_HOURS)),
            ]
            if cycles is not None:
                domain.append(("id", "in", cycles.ids))
            found = self.sudo().search(domain, order="id")
            if not found:
                continue
            try:
                with self.env.cr.savepoint():
                    found._claim_newsletters(event_type, now, date_field)
            except psycopg2.extensions.TransactionRollbackError as exc:
                _logger.info(
                    "%s newsletters claimed by another transaction: %s", event_type, exc
                )

    def _newsletter_parameters(self):
        """The fixed parameters of the cycle's newsletter (see
        newsletter/campaign.py for their names and how each provider gets
        them): text only, dates in the shop's timezone and language."""
        self.ensure_one()
        company = self.company_id
        shop = company.partner_id
        timezone, lang = shop.tz or "UTC", shop.lang or "en_US"
        description = (
            "" if is_html_empty(self.description) else html2plaintext(self.description)
        )
        return {
            "COOP_CYCLE_NAME": self.name or "",
            "COOP_OPENS_AT": _local_text(self.date_open, timezone, lang),
            "COOP_CLOSES_AT": _local_text(self.date_close, timezone, lang),
            "COOP_SHOP_NAME": company.name or "",
            "COOP_SHOP_URL": self.shop_url or company.website or "",
            "COOP_CYCLE_DESCRIPTION": description,
        }


def _local_text(moment, timezone, lang):
    """A naive UTC datetime as the shop's buyers read it: its date in full
    and its time, in the shop's timezone and language."""
    try:
        zone = pytz.timezone(timezone)
    except pytz.UnknownTimeZoneError:
        zone = pytz.utc
    local = pytz.utc.localize(moment).astimezone(zone)
    locale = babel_locale_parse(lang)
    return (
        f"{format_date(local, format='full', locale=locale)}, "
        f"{format_time(local, format='short', locale=locale)}"
    )
