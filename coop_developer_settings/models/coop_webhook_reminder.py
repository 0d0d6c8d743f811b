# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import logging
from datetime import timedelta

import psycopg2

from odoo import api, fields, models
from odoo.tools import SQL

from ..webhook.schemas import MAX_LEAD_TIME_HOURS

_logger = logging.getLogger(__name__)


class CoopWebhookReminder(models.Model):
    """A lead-time event sent: one row per (endpoint, sale cycle, event type,
    target date), guarded by a unique index.

    Whoever inserts the row first (the cron, a user's transition, another
    server) sends the reminder; the others' inserts do nothing. Apart from
    the log of events (purged after the retention), so that a purge never
    re-arms a reminder. A new date is a new row: moving the date re-arms.
    """

    _name = "coop.webhook.reminder"
    _description = "Webhook reminder sent"
    _log_access = False
    _order = "id desc"

    endpoint_id = fields.Many2one(
        "coop.webhook.endpoint", required=True, readonly=True, ondelete="cascade"
    )
    sale_cycle_id = fields.Many2one(
        "coop.sale.cycle", required=True, readonly=True, index=True, ondelete="cascade"
    )
    event_type = fields.Char(required=True, readonly=True)
    target_date = fields.Datetime(
        required=True, readonly=True, help="The date the reminder announced."
    )
    event_id = fields.Many2one("coop.webhook.event", readonly=True, ondelete="set null")
    sent_at = fields.Datetime(readonly=True)

    _sql_constraints = [
        (
            "once",
            "UNIQUE(endpoint_id, sale_cycle_id, event_type, target_date)",
            "A reminder is sent once per endpoint, sale cycle and date.",
        ),
    ]

    @api.model
    def _send_due(self, cycles=None):
        """Send the sale cycles' reminders that fell due (of the given
        cycles, or all).

        For each endpoint of sale_cycle.opening_soon / closing_soon: each
        cycle in the reminder's state whose date is within the endpoint's
        lead time ahead, and not past. Once per endpoint, cycle and date
        (this model's rows), whoever runs this at the same time; after an
        outage, the reminders still relevant are caught up (the date has not
        passed, the state still holds); a moved date is a new reminder.
        """
        now = fields.Datetime.now()
        Cycle = self.env["coop.sale.cycle"].sudo()
        Endpoint = self.env["coop.webhook.endpoint"]
        for event_type, (state, date_field) in Cycle._webhook_lead_time_events.items():
            domain = [
                ("state", "=", state),
                (date_field, ">", now),
                (date_field, "<=", now + timedelta(hours=MAX_LEAD_TIME_HOURS)),
            ]
            if cycles is not None:
                domain.append(("id", "in", cycles.ids))
            by_company = Cycle.search(domain, order="id").grouped("company_id")
            for company, company_cycles in by_company.items():
                # Always in the same order: concurrent claims never deadlock.
                due = [
                    (endpoint, cycle)
                    for endpoint in Endpoint._recipients(company, event_type)
                    for cycle in company_cycles
                    if cycle[date_field] - timedelta(hours=endpoint.lead_time_hours)
                    <= now
                ]
                self._send_claimed(event_type, date_field, company, due)

    @api.model
    def _send_claimed(self, event_type, date_field, company, due):
        """Claim the reminders of due, [(endpoint, cycle)] of company, and
        send those this transaction claimed."""
        Reminder = self.sudo()
        try:
            # A claim lost to a concurrent transaction is expected (its
            # query logs no error).
            with self.env.cr.savepoint():
                claimed = Reminder._claim(event_type, due, date_field)
        except psycopg2.extensions.TransactionRollbackError as exc:
            _logger.info(
                "%s reminders of company %s sent by another transaction: %s",
                event_type,
                company.id,
                exc,
            )
            return
        events = self.env["coop.webhook.event"]._record(
            event_type, [(cycle, endpoint) for endpoint, cycle in claimed]
        )
        Reminder._link_events(event_type, date_field, events)
        events._deliver()

    @api.model
    def _claim(self, event_type, due, date_field):
        """Claim the reminders of due, [(endpoint, cycle)], for the cycles'
        current date_field: returns the pairs this transaction claimed.

        A pair another transaction claimed first, committed or not, is left
        out; under Odoo's repeatable read, one claimed by a transaction that
        committed after this one started raises SerializationFailure: the
        caller skips the batch (it was sent).
        """
        if not due:
            return []
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO coop_webhook_reminder
                       (endpoint_id, sale_cycle_id, event_type, target_date, sent_at)
                VALUES %s
                ON CONFLICT (endpoint_id, sale_cycle_id, event_type, target_date)
                DO NOTHING
                RETURNING endpoint_id, sale_cycle_id
                """,
                SQL(", ").join(
                    SQL(
                        "(%s, %s, %s, %s, %s)",
                        endpoint.id,
                        cycle.id,
                        event_type,
                        cycle[date_field],
                        now,
                    )
                    for endpoint, cycle in due
                ),
            ),
            # Not muted by mute_logger: it mutes the logger for every
            # thread of the process, and is not thread-safe.
            log_exceptions=False,
        )
        claimed = set(self.env.cr.fetchall())
        return [
            (endpoint, cycle)
            for endpoint, cycle in due
            if (endpoint.id, cycle.id) in claimed
        ]

    @api.model
    def _link_events(self, event_type, date_field, events):
        """Tell the claimed reminders which events they sent (one query)."""
        if not events:
            return
        self.env.cr.execute(
            SQL(
                """
                UPDATE coop_webhook_reminder AS reminder SET event_id = sent.event_id
                  FROM (VALUES %s) AS sent(endpoint_id, sale_cycle_id, target_date,
                                           event_id)
                 WHERE reminder.endpoint_id = sent.endpoint_id
                   AND reminder.sale_cycle_id = sent.sale_cycle_id
                   AND reminder.target_date = sent.target_date
                   AND reminder.event_type = %s
                """,
                SQL(", ").join(
                    SQL(
                        "(%s, %s, %s::timestamp, %s)",
                        event.endpoint_id.id,
                        event.res_id,
                        self.env[event.res_model].browse(event.res_id)[date_field],
                        event.id,
                    )
                    for event in events
                ),
                event_type,
            )
        )
