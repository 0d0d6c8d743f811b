# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Manual sends of an endpoint: test events, redeliveries, resends."""

import math
from datetime import timedelta

from odoo import fields, models
from odoo.exceptions import UserError

from .coop_webhook_delivery import (
    ALL_STATES,
    FAILED_STATES,
    IN_FLIGHT,
    MAX_RESEND,
    STATE_EXPIRED,
)


class TooManySends(UserError):
    """A manual send refused by the rate limit. The tab shows its message;
    the API answers 429 with a Retry-After of ``retry_after`` seconds."""

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


class CoopWebhookEndpoint(models.Model):
    """Manual sends: rate-limited per endpoint, never two chains of one delivery."""

    _inherit = "coop.webhook.endpoint"

    def _claim_manual_send(self):
        """Send test event, Redeliver and the resends: at most once per
        endpoint in the configured interval, against a flood of clicks or
        calls."""
        settings = self.env["ir.config_parameter"]._coop_webhook_settings()
        interval = settings.manual_send_interval
        if not interval or not self:
            return
        # Concurrent claims wait for each other, then see the winner's stamp.
        self.flush_recordset(["last_manual_send_at"])
        self.env.cr.execute(
            "SELECT id FROM coop_webhook_endpoint WHERE id IN %s FOR NO KEY UPDATE",
            [tuple(self.ids)],
        )
        self.invalidate_recordset(["last_manual_send_at"])
        now = fields.Datetime.now()
        for endpoint in self:
            last = endpoint.last_manual_send_at
            if last and now < last + timedelta(seconds=interval):
                wait = last + timedelta(seconds=interval) - now
                seconds = math.ceil(wait.total_seconds())
                raise TooManySends(
                    self.env._(
                        "Too many sends to %(url)s: wait %(seconds)s seconds before "
                        "sending a test event, redelivering or resending events "
                        "again.",
                        url=endpoint.url,
                        seconds=seconds,
                    ),
                    seconds,
                )
        self.sudo().write({"last_manual_send_at": now})

    def action_send_test_event(self):
        self._send_test_event()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("Test event queued: see the deliveries."),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def _send_test_event(self):
        """Queue a test event to each endpoint; returns the deliveries."""
        self.check_access("read")
        self._claim_manual_send()
        return self.env["coop.webhook.delivery"]._enqueue_test_event(self)

    def action_redeliver_failed(self):
        self.check_access("write")
        return (
            self._owned_deliveries()
            .filtered(lambda delivery: delivery.state in FAILED_STATES)
            .action_redeliver()
        )

    def action_enable_and_resend(self):
        """One click on a disabled endpoint: enable it, send again what
        failed or expired (within the retention: an administrator may have
        kept its event type from expiring since) and the events of its type
        that happened while it was disabled, with their ids. Stale ones
        expire again."""
        self.ensure_one()
        self.check_access("write")
        since = self._retention_start()
        failed = self._owned_deliveries().filtered(
            lambda delivery: delivery.state in (*FAILED_STATES, STATE_EXPIRED)
            and delivery.create_date >= since
        )
        missed = self.env["coop.webhook.event"]
        if self.state == "disabled":
            # Those it has no delivery of at all.
            missed = self._events_since(
                max(self.disabled_at or fields.Datetime.now(), since),
                skip_states=ALL_STATES,
            )
        self._check_resend_size(len(failed) + len(missed))
        self.action_enable()
        self._claim_manual_send()
        failed._lock_or_refuse()
        expired = failed._redeliver()
        expired |= self._resend(missed)
        return self._resent_notification(len(failed) + len(missed), len(expired))

    def action_open_resend_wizard(self):
        """Resend events since...: the date is asked in a dialog."""
        self.ensure_one()
        self.check_access("write")
        return {
            "type": "ir.actions.act_window",
            "res_model": "coop.webhook.resend.wizard",
            "name": self.env._("Resend events since..."),
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_endpoint_id": self.id},
        }

    def _retention_start(self):
        """The oldest moment events and deliveries are kept from."""
        settings = self.env["ir.config_parameter"]._coop_webhook_settings()
        return fields.Datetime.now() - timedelta(days=settings.retention_days)

    def _events_since_domain(self, since, skip_states=IN_FLIGHT):
        """The events of this endpoint's type since then that it may
        receive: its shop's (the companies its owner is allowed on) and its
        own (reminders, tests), including those that happened while it was
        disabled; but those it has a delivery of in one of skip_states (by
        default: on its way, not to be queued twice)."""
        self.ensure_one()
        return [
            ("event_type", "=", self.event_type),
            ("occurred_at", ">=", since),
            ("company_id", "in", self.user_id.company_ids.ids),
            "|",
            ("endpoint_id", "=", False),
            ("endpoint_id", "=", self.id),
            (
                "delivery_ids",
                "not any",
                [("endpoint_id", "=", self.id), ("state", "in", skip_states)],
            ),
        ]

    def _events_since(self, since, skip_states=IN_FLIGHT):
        """Those events (see _events_since_domain), oldest first; refused
        beyond MAX_RESEND."""
        domain = self._events_since_domain(since, skip_states)
        events = (
            self.env["coop.webhook.event"]
            .sudo()
            .search(domain, order="occurred_at, id", limit=MAX_RESEND + 1)
        )
        if len(events) > MAX_RESEND:
            # Counted only to tell how many in the refusal.
            self._check_resend_size(
                self.env["coop.webhook.event"].sudo().search_count(domain)
            )
        return events

    def _check_resend_size(self, count):
        if count > MAX_RESEND:
            raise UserError(
                self.env._(
                    "%(count)s events to send again: at most %(max)s per request. "
                    "Use Resend events since... with a later date (enable the "
                    "webhook first if it is disabled).",
                    count=count,
                    max=MAX_RESEND,
                )
            )

    def _resend_since(self, since):
        """Resend events since...: every event this endpoint may receive
        since then, again, with its id (receivers deduplicate on it). At
        most the retention back and MAX_RESEND events per request, at most
        once per manual send interval; those already on their way are not
        queued twice; stale ones expire. Owners and administrators."""
        self.ensure_one()
        self.check_access("write")
        oldest = self._retention_start()
        if since < oldest:
            settings = self.env["ir.config_parameter"]._coop_webhook_settings()
            raise UserError(
                self.env._(
                    "Events are kept %(days)s days: choose a date after %(date)s "
                    "(UTC).",
                    days=settings.retention_days,
                    date=fields.Datetime.to_string(oldest),
                )
            )
        if since > fields.Datetime.now():
            raise UserError(self.env._("Choose a date in the past."))
        if self.state != "enabled":
            raise UserError(
                self.env._(
                    "This webhook is disabled: use Enable and resend failed, or "
                    "enable it first."
                )
            )
        events = self._events_since(since)
        self._claim_manual_send()
        expired = self._resend(events)
        return self._resent_notification(len(events), len(expired))

    def _resend(self, events):
        """Queue events to this endpoint again; returns the deliveries that
        expired at once (their event is stale)."""
        deliveries = self.env["coop.webhook.delivery"]._queue(
            [(event, self) for event in events], replay=True
        )
        return deliveries.filtered(lambda delivery: delivery.state == STATE_EXPIRED)

    def _resent_notification(self, count, expired):
        message = self.env._("%(count)s events queued again.", count=count - expired)
        if expired:
            message += " " + self.env._(
                "%(count)s others are too late to be sent (their sale cycle has "
                "moved on): expired, see the deliveries.",
                count=expired,
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": message,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
