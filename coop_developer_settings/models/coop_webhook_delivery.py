# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The webhook outbox: a delivery per (event, endpoint), written in the
event's transaction, its states and its schedule in queue_job jobs; the
job that sends them is in coop_webhook_delivery_job.py."""

import logging
from datetime import timedelta

import psycopg2

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.queue_job.job import CANCELLED, DONE, ENQUEUED, FAILED, PENDING

_logger = logging.getLogger(__name__)

CHANNEL = "root.webhook"
# A delivery's states: on its way (pending, retrying), then one of the ends.
STATE_PENDING = "pending"
STATE_RETRYING = "retrying"
STATE_DONE = "done"
STATE_FAILED = "failed"
STATE_CANCELLED = "cancelled"  # stopped: its endpoint disabled, deleted...
STATE_EXPIRED = "expired"  # too late to be sent (see _expire_stale)
STATES = [
    (STATE_PENDING, "Pending"),
    (STATE_RETRYING, "Retrying"),
    (STATE_DONE, "Done"),
    (STATE_FAILED, "Failed"),
    (STATE_CANCELLED, "Cancelled"),
    (STATE_EXPIRED, "Expired"),
]
ALL_STATES = tuple(state for state, _label in STATES)
IN_FLIGHT = (STATE_PENDING, STATE_RETRYING)
# What the health, the counts and "Redeliver failed" count as failed: the
# cancelled ones were stopped by the endpoint's disabling.
FAILED_STATES = (STATE_FAILED, STATE_CANCELLED)
# Deliveries per job: one job sends them at once (see webhook/batch.py).
BATCH_SIZE = 200
# Seconds before a job finding its deliveries locked by another runs again.
LOCKED_RETRY = 5
# queue_job runs a channel's jobs of lower priority first (its default
# is 10): the jobs of slow endpoints give way to the others.
SLOW_PRIORITY = 20
# Sent again by hand (Redeliver, Resend events since..., Enable and resend
# failed): after every live delivery, in a channel of their own that the
# server's configuration may give fewer job slots (see the README's sizing):
# a big replay never delays the other users' live events.
REPLAY_PRIORITY = 30
REPLAY_CHANNEL = "root.webhook.replay"
# Deliveries or events one manual re-send may queue: Redeliver, the resends.
MAX_RESEND = 1000


class CoopWebhookDelivery(models.Model):
    """One event for one endpoint: the outbox row, its attempts, its fate.

    Created in the transaction of the event; every attempt sends the bytes
    built from the event (coop.webhook.event), with its id as webhook-id.
    """

    _name = "coop.webhook.delivery"
    _description = "Webhook delivery"
    _order = "id desc"
    _rec_name = "event_id"

    endpoint_id = fields.Many2one(
        "coop.webhook.endpoint", required=True, index=True, ondelete="cascade"
    )
    # Whom the event was sent for: the endpoint's owner then. It stays so
    # when the endpoint changes owner (the body is theirs to read).
    user_id = fields.Many2one(
        "res.users",
        string="Recipient",
        required=True,
        index=True,
        readonly=True,
        ondelete="cascade",
    )
    # The company the event is about: the owner must still be allowed on it
    # when the delivery is sent.
    company_id = fields.Many2one(
        "res.company",
        string="Event's company",
        required=True,
        index=True,
        readonly=True,
        ondelete="cascade",
    )
    # Its endpoint's URL, for the recipient while they own the endpoint and
    # for administrators (see coop.webhook.endpoint's display name).
    url = fields.Char(string="URL", compute="_compute_url")
    event_id = fields.Many2one(
        "coop.webhook.event",
        string="Event",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    webhook_id = fields.Char(
        related="event_id.public_id",
        string="webhook-id",
        help="The event's id, sent as the webhook-id header: receivers "
        "deduplicate on it.",
    )
    event_type = fields.Char(required=True, readonly=True, index=True)
    body = fields.Text(related="event_id.body")
    is_replay = fields.Boolean(
        string="Replay",
        readonly=True,
        help="Sent again by hand (Redeliver, Resend events since... or Enable and "
        "resend failed): queued after the live deliveries.",
    )
    state = fields.Selection(
        STATES,
        default=STATE_PENDING,
        required=True,
        readonly=True,
        index=True,
    )
    attempt_count = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(readonly=True)
    last_status = fields.Integer(string="Last HTTP status", readonly=True)
    last_error = fields.Char(readonly=True)
    # The one job allowed to send it: a job that is no longer this one
    # (replaced by Redeliver) ends without sending.
    job_uuid = fields.Char(string="Current job", readonly=True, copy=False)
    attempt_ids = fields.One2many(
        "coop.webhook.attempt", "delivery_id", string="Attempts", readonly=True
    )

    # ------------------------------------------------------------------
    # Outbox: created with the event, in its transaction
    # ------------------------------------------------------------------

    @api.model
    def _queue(self, pairs, replay=False):
        """One delivery of each (event, endpoint) of pairs, queued in the
        current transaction; those whose event is already stale end expired
        at once (a replay of an old event)."""
        deliveries = self.sudo().create(
            [
                {
                    "event_id": event.id,
                    "endpoint_id": endpoint.id,
                    "user_id": endpoint.user_id.id,
                    "company_id": event.company_id.id,
                    "event_type": event.event_type,
                    "is_replay": replay,
                }
                for event, endpoint in pairs
            ]
        )
        (deliveries - deliveries._expire_stale())._schedule()
        return deliveries

    @api.model
    def _enqueue_test_event(self, endpoints):
        """A test event for each endpoint (see coop.webhook.event's
        _record_tests), queued to it; returns the deliveries."""
        return self.env["coop.webhook.event"]._record_tests(endpoints)._deliver()

    @api.depends("endpoint_id.url", "endpoint_id.user_id", "user_id")
    @api.depends_context("uid")
    def _compute_url(self):
        shown = self.endpoint_id.sudo()._url_shown()
        everyone = self.env.user._is_system()
        for delivery in self:
            endpoint = delivery.endpoint_id.sudo()
            visible = endpoint in shown and (
                everyone or delivery.user_id == endpoint.user_id
            )
            delivery.url = endpoint.url if visible else False

    def _schedule(self, delay=0):
        """Queue these deliveries in queue_job jobs of up to BATCH_SIZE each
        (an endpoint's together), in the current transaction.

        The endpoints that were slow lately (a timeout, a slow answer) get
        jobs of their own: a job ends when its slowest attempt does, and a
        receiver that hangs must not make the others' jobs last its whole
        timeout. Replays go after all of them, in their own channel. The
        jobs run as the superuser, not as whoever caused the event: a job
        whose user was deleted would never run.
        """
        deliveries = self.with_user(SUPERUSER_ID)
        slow = self.env["coop.webhook.attempt"]._slow_endpoint_ids(
            deliveries.endpoint_id.ids
        )
        for (is_replay, is_slow), group in deliveries.grouped(
            lambda delivery: (delivery.is_replay, delivery.endpoint_id.id in slow)
        ).items():
            if is_replay:
                group._schedule_batches(
                    delay, channel=REPLAY_CHANNEL, priority=REPLAY_PRIORITY
                )
            else:
                group._schedule_batches(
                    delay, priority=SLOW_PRIORITY if is_slow else None
                )

    def _schedule_batches(self, delay, channel=CHANNEL, priority=None):
        deliveries = self.sorted(
            lambda delivery: (delivery.endpoint_id.id, delivery.id)
        )
        for start in range(0, len(deliveries), BATCH_SIZE):
            chunk = deliveries[start : start + BATCH_SIZE]
            types = ", ".join(sorted(set(chunk.mapped("event_type"))))
            job = chunk.with_delay(
                channel=channel,
                priority=priority,
                eta=timedelta(seconds=delay) if delay else None,
                # queue_job runs a job again after a crash (dead worker),
                # 5 times at most; the delivery schedule is our own
                # (_record_attempts).
                max_retries=5,
                description=f"Webhook {types}: {len(chunk)} deliveries to "
                f"{len(chunk.endpoint_id)} endpoints",
            )._deliver_job()
            chunk.job_uuid = job.uuid

    def _cancel_jobs(self, reason):
        """End the jobs of these deliveries that have not started yet, but
        those that still have other deliveries to send."""
        uuids = set(self.mapped("job_uuid")) - {False}
        if not uuids:
            return
        uuids -= set(
            self.sudo()
            .search(
                [
                    ("job_uuid", "in", list(uuids)),
                    ("id", "not in", self.ids),
                    ("state", "in", IN_FLIGHT),
                ]
            )
            .mapped("job_uuid")
        )
        self.env["queue.job"].sudo().search(
            [("uuid", "in", list(uuids)), ("state", "in", (PENDING, ENQUEUED))]
        )._change_job_state(CANCELLED, result=reason)

    def _cancel(self, reason, state=STATE_CANCELLED):
        """Stop these deliveries for good (nothing more is sent)."""
        self._cancel_jobs(reason)
        self.write({"state": state, "next_attempt_at": False, "last_error": reason})

    def _expire_stale(self):
        """Expire those of these deliveries, still to be sent, whose event
        is too late now (its sale cycle closed, was cancelled, or opened for
        a reminder of its opening), with the reason. Returns them.

        Called when the cycle moves (for all its deliveries at once), when
        deliveries are queued, and by the job right before it sends.
        """
        in_flight = self.filtered(lambda delivery: delivery.state in IN_FLIGHT)
        reasons = in_flight.event_id._stale_reasons()
        stale = in_flight.filtered(lambda delivery: delivery.event_id in reasons)
        for reason, deliveries in stale.grouped(
            lambda delivery: reasons[delivery.event_id]
        ).items():
            deliveries._cancel(reason, state=STATE_EXPIRED)
        return stale

    def _recipient_allowed(self):
        """Those of these deliveries whose recipient still owns the endpoint,
        with the access, allowed on the event's company."""
        allowed = self.browse()
        for company, deliveries in self.grouped("company_id").items():
            endpoints = self.env["coop.webhook.endpoint"]._recipients(
                company, among=deliveries.endpoint_id
            )
            allowed |= deliveries.filtered(
                lambda delivery, endpoints=endpoints: delivery.endpoint_id in endpoints
                and delivery.user_id == delivery.endpoint_id.user_id
            )
        return allowed

    def _lock(self, skip_locked=False):
        """Lock the rows for this transaction, without waiting: raises
        LockNotAvailable while another transaction (a job sending one of
        them) holds one, or leaves those out with skip_locked. Returns those
        that still exist and are locked."""
        if not self:
            return self
        self.flush_recordset()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM coop_webhook_delivery WHERE id IN %s "
                "FOR NO KEY UPDATE %s",
                tuple(self.ids),
                SQL("SKIP LOCKED") if skip_locked else SQL("NOWAIT"),
            ),
            # The refusal is expected, not a bug; not mute_logger: it mutes
            # the logger for every thread of the process.
            log_exceptions=False,
        )
        locked = {row[0] for row in self.env.cr.fetchall()}
        self.invalidate_recordset()
        return self.filtered(lambda delivery: delivery.id in locked)

    # ------------------------------------------------------------------
    # Actions and housekeeping
    # ------------------------------------------------------------------
    def action_redeliver(self):
        """Send again, same event id and body.

        Finished deliveries start a fresh schedule (the attempts already
        made stay in the log); one waiting for its next attempt is tried now
        instead, by a new job that replaces the scheduled one; one still
        queued is left alone. Never two attempt chains for one delivery. An
        event that went stale meanwhile is not sent: its delivery expires.
        """
        self.check_access("read")
        if len(self) > MAX_RESEND:
            raise UserError(
                self.env._(
                    "%(count)s deliveries to send again: at most %(max)s per "
                    "request. Select fewer (filter them by date), or use Resend "
                    "events since... on the webhook.",
                    count=len(self),
                    max=MAX_RESEND,
                )
            )
        deliveries = self.sudo()
        if deliveries - deliveries._recipient_allowed():
            # Not sent by the job anyway; and the endpoint's manual sends
            # are its owner's to use.
            raise UserError(
                self.env._(
                    "These deliveries can no longer be sent: their endpoint has "
                    "another owner now, or its owner lost the access."
                )
            )
        deliveries._lock_or_refuse()
        queued = deliveries._queued()
        (deliveries - queued).endpoint_id._claim_manual_send()
        deliveries._redeliver()
        if not queued:
            return True
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "message": self.env._(
                    "%(count)s deliveries are already queued: they are sent once, "
                    "as planned.",
                    count=len(queued),
                ),
            },
        }

    def _lock_or_refuse(self):
        """Lock these deliveries before sending them again; a clear refusal
        while a job is sending one of them."""
        try:
            with self.env.cr.savepoint(flush=False):
                self._lock()
        except psycopg2.errors.LockNotAvailable:
            raise UserError(
                self.env._(
                    "A delivery is being sent right now: try again in a few seconds."
                )
            ) from None

    def _redeliver(self):
        """Queue these (locked) deliveries again, but those still queued;
        returns those expired instead (see action_redeliver)."""
        to_send = self - self._queued()
        to_send._cancel_jobs(self.env._("Replaced by a redelivery."))
        finished = to_send.filtered(lambda delivery: delivery.state not in IN_FLIGHT)
        finished.write({"state": STATE_PENDING, "attempt_count": 0})
        to_send.write({"next_attempt_at": False, "is_replay": True})
        expired = to_send._expire_stale()
        (to_send - expired)._schedule()
        return expired

    def _stranded(self, all_deliveries=False):
        """Those of these deliveries (or of all, with all_deliveries) on
        their way whose job will never run: failed (crashed more than
        max_retries times), cancelled, done without them, or gone."""
        if not (self or all_deliveries):
            return self
        self.env["coop.webhook.delivery"].flush_model(["state", "job_uuid"])
        self.env.cr.execute(
            SQL(
                """SELECT d.id FROM coop_webhook_delivery d
                     LEFT JOIN queue_job j ON j.uuid = d.job_uuid
                    WHERE d.state IN %s AND (j.id IS NULL OR j.state IN %s) %s""",
                IN_FLIGHT,
                (FAILED, CANCELLED, DONE),
                SQL() if all_deliveries else SQL("AND d.id IN %s", tuple(self.ids)),
            )
        )
        return self.browse(row[0] for row in self.env.cr.fetchall())

    def _queued(self):
        """Those of these deliveries waiting for a job that will run."""
        return self.filtered(lambda delivery: delivery.state == STATE_PENDING) - (
            self._stranded()
        )

    @api.model
    def _cron_requeue_stranded(self):
        """Queue again the deliveries whose job will never run, each in a job
        of its own: one of them may be what made their batch crash. Returns
        their number."""
        stranded = self.sudo()._stranded(all_deliveries=True)
        stranded = stranded._lock(skip_locked=True)
        for delivery in stranded:
            delivery._schedule()
        if stranded:
            _logger.warning(
                "webhook deliveries %s: their job will never run, queued again",
                stranded.ids,
            )
        return len(stranded)

    @api.model
    def _cron_purge(self):
        """Remove the events and deliveries older than the retention, but
        deliveries still on their way and their events; returns the number
        of deliveries removed.

        The reminders' rows go once their date is that old: their cycle has
        moved on since, so none can be sent twice.
        """
        settings = self.env["ir.config_parameter"]._coop_webhook_settings()
        cutoff = fields.Datetime.now() - timedelta(days=settings.retention_days)
        old = self.sudo().search(
            [("state", "not in", IN_FLIGHT), ("create_date", "<", cutoff)]
        )
        old.unlink()
        # Deleted endpoints whose removal job did not run (see its unlink).
        self.env["coop.webhook.endpoint"].sudo().with_context(active_test=False).search(
            [("active", "=", False)]
        ).unlink()
        self.env["coop.webhook.event"].sudo().search(
            [("occurred_at", "<", cutoff), ("delivery_ids", "=", False)]
        ).unlink()
        self.env["coop.webhook.reminder"].sudo().search(
            [("target_date", "<", cutoff)]
        ).unlink()
        return len(old)
