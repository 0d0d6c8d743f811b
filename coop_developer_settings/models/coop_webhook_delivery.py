# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import logging
import math
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg2

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError
from odoo.modules.module import get_manifest
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL, config, mute_logger

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import CANCELLED, DONE, ENQUEUED, FAILED, PENDING

from ..webhook import batch, client, retry, schemas, signing

_logger = logging.getLogger(__name__)

CHANNEL = "root.webhook"
MODULE_VERSION = get_manifest("coop_developer_settings")["version"]
IN_FLIGHT = ("pending", "retrying")
STATES = [
    ("pending", "Pending"),
    ("retrying", "Retrying"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("expired", "Expired"),
]
ALL_STATES = tuple(state for state, _label in STATES)
# Deliveries per job: one job sends them at once (see webhook/batch.py).
BATCH_SIZE = 200
# A job starts attempts during this many seconds at most, then leaves the
# rest to a new job: a job ends within it plus one total timeout, well
# within the workers' time limit, whatever its receivers do.
BATCH_BUDGET = 30
# What a job needs besides its attempts (reading, recording): kept free
# of the workers' time limit when that limit shortens the budget.
BATCH_OVERHEAD = 30
# Seconds before a job finding its deliveries locked by another runs again.
LOCKED_RETRY = 5
# Seconds before a job that lost its database connection (a restart, a
# failover) runs again: the database is usually back by then.
CONNECTION_LOST_RETRY = 5
# Connection errors: libpq's own (no SQLSTATE), class 08, the server
# shutting down or restarting (57P01-57P03).
CONNECTION_LOST_SQLSTATES = ("57P01", "57P02", "57P03")
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


def connection_lost(exc):
    """Whether exc says the database connection is gone: nothing of the
    transaction was committed, and a new connection may work."""
    if isinstance(exc, psycopg2.InterfaceError):  # used after it broke
        return True
    return isinstance(exc, psycopg2.OperationalError) and (
        exc.pgcode is None
        or exc.pgcode.startswith("08")
        or exc.pgcode in CONNECTION_LOST_SQLSTATES
    )


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
        default="pending",
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
        """A webhook.test event for each endpoint, with a sample of its data."""
        Event = self.env["coop.webhook.event"].sudo()
        test_type = self.env.ref("coop_developer_settings.webhook_event_test")
        events = Event.browse()
        for endpoint in endpoints:
            company, data = self.env[endpoint.event_type_id.res_model]._webhook_sample(
                endpoint.event_type, endpoint.user_id
            )
            events |= Event.create(
                {
                    "event_type_id": test_type.id,
                    "company_id": company.id,
                    "data": {**data, schemas.SAMPLE_OF: endpoint.event_type},
                    "endpoint_id": endpoint.id,
                }
            )
        return events._deliver()

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

    def _cancel(self, reason, state="cancelled"):
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
            deliveries._cancel(reason, state="expired")
        return stale

    def _lock(self, skip_locked=False):
        """Lock the rows for this transaction, without waiting: raises
        LockNotAvailable while another transaction (a job sending one of
        them) holds one, or leaves those out with skip_locked. Returns those
        that still exist and are locked."""
        if not self:
            return self
        self.flush_recordset()
        with mute_logger("odoo.sql_db"):  # the refusal is expected, not a bug
            self.env.cr.execute(
                SQL(
                    "SELECT id FROM coop_webhook_delivery WHERE id IN %s "
                    "FOR NO KEY UPDATE %s",
                    tuple(self.ids),
                    SQL("SKIP LOCKED") if skip_locked else SQL("NOWAIT"),
                )
            )
            locked = {row[0] for row in self.env.cr.fetchall()}
        self.invalidate_recordset()
        return self.filtered(lambda delivery: delivery.id in locked)

    # ------------------------------------------------------------------
    # Delivery: one job sends a batch, one attempt per delivery
    # ------------------------------------------------------------------

    def _deliver_job(self):
        """Try each delivery of the batch once, all at once within bounds;
        record each attempt; schedule the next ones or conclude.

        The rows stay locked until the job's transaction ends: two jobs
        never send one delivery at once (the second one finds a lock taken
        and queue_job runs it again a few seconds later, when it sees the
        first one's result). Nothing is recorded before the job commits: a
        job killed in the middle of its batch, or whose database connection
        is lost (a restart of PostgreSQL), is run again by queue_job, and
        sends the whole batch again, with the same webhook-ids.
        """
        try:
            return self._deliver_batch()
        except (psycopg2.InterfaceError, psycopg2.OperationalError) as exc:
            if not connection_lost(exc):
                raise
            # A try: a database that stays away fails the job after its
            # max_retries, and the stranded deliveries cron queues them again.
            raise RetryableJobError(
                "the database connection was lost", seconds=CONNECTION_LOST_RETRY
            ) from exc

    def _deliver_batch(self):
        try:
            deliveries = self.sudo()._lock()
        except psycopg2.errors.LockNotAvailable:
            # Another job is sending some of them: again a few seconds later.
            # Not a try: queue_job counts each run against max_retries and
            # fails a job found dead beyond them, waits included.
            raise RetryableJobError(
                "another job is sending these deliveries",
                seconds=LOCKED_RETRY,
                ignore_retry=True,
            ) from None
        summary = Counter(deleted=len(self) - len(deliveries))
        job_uuid = self.env.context.get("job_uuid")
        mine = deliveries.filtered(
            lambda delivery: not (
                job_uuid and delivery.job_uuid and delivery.job_uuid != job_uuid
            )
        )
        summary["replaced by another job"] = len(deliveries - mine)
        mine = mine.filtered(lambda delivery: delivery.state in IN_FLIGHT)
        # The sale cycle may have closed since the deliveries were expired
        # at its transition (which skips those being sent), or the
        # transition committed after this job read them: never send late.
        expired = mine._expire_stale()
        summary["expired"] = len(expired)
        to_send = mine - expired
        disabled = to_send.filtered(
            lambda delivery: delivery.endpoint_id.state != "enabled"
        )
        deleted = disabled.filtered(lambda delivery: not delivery.endpoint_id.active)
        deleted._cancel(self.env["coop.webhook.endpoint"]._deleted_reason())
        (disabled - deleted)._cancel(self.env._("The endpoint is disabled."))
        to_send -= disabled
        refused = to_send - to_send._recipient_allowed()
        refused._cancel(
            self.env._(
                "The owner no longer has the access or is no longer allowed on "
                "this event's company."
            )
        )
        to_send -= refused
        summary["cancelled"] = len(disabled) + len(refused)
        if to_send:
            summary.update(to_send._send_and_record())
        return (
            ", ".join(f"{what}: {count}" for what, count in summary.items() if count)
            or "nothing to do"
        )

    def _recipient_allowed(self):
        """Those of these deliveries whose recipient still owns the endpoint,
        with the access, allowed on the event's company."""
        allowed = self.browse()
        for company, deliveries in self.grouped("company_id").items():
            endpoints = deliveries.endpoint_id.search(
                [
                    ("id", "in", deliveries.endpoint_id.ids),
                    *deliveries.endpoint_id._recipient_domain(company),
                ]
            )
            allowed |= deliveries.filtered(
                lambda delivery, endpoints=endpoints: delivery.endpoint_id in endpoints
                and delivery.user_id == delivery.endpoint_id.user_id
            )
        return allowed

    def _send_and_record(self):
        """Send these deliveries concurrently and record what came of each;
        those that did not start within the batch's time goes to a new job.
        Returns {disposition: count}."""
        settings = self.env["ir.config_parameter"]._coop_webhook_settings()
        attempts, broken = self._prepare_attempts()
        budget, total_timeout = self._batch_limits(settings.total_timeout)
        with client.Sender(
            connect_timeout=settings.connect_timeout,
            total_timeout=total_timeout,
            allowed_networks=settings.allowed_networks,
        ) as sender:
            not_started = batch.send(
                attempts,
                sender,
                concurrency=settings.delivery_concurrency,
                per_endpoint=settings.endpoint_concurrency,
                budget=budget,
            )
        later = self.browse([attempt.key for attempt in not_started])
        later._schedule()
        attempts = [attempt for attempt in attempts if attempt.outcome] + broken
        try:
            with self.env.cr.savepoint():
                self._record_attempts(attempts, settings)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            raise  # queue_job runs the job again
        except Exception as exc:
            if connection_lost(exc):
                raise  # nothing can be recorded: the job runs again
            # Never leave a delivery pending after a crash: the attempts are
            # logged with the exception's class only, and retried.
            _logger.exception("webhook deliveries %s: recording broke", self.ids)
            for attempt in attempts:
                attempt.outcome = client.internal_error(exc)
            self._record_attempts(attempts, settings)
        counts = Counter(attempt.outcome.disposition for attempt in attempts)
        counts["sent in another job"] = len(later)
        return counts

    @api.model
    def _batch_limits(self, total_timeout):
        """(seconds to start attempts, seconds per attempt): BATCH_BUDGET and
        the answer timeout, shortened so that a job ends within the workers'
        time limit (limit_time_real) with BATCH_OVERHEAD to spare: a job
        killed by that limit would send its batch again."""
        limit = config["limit_time_real"]
        if limit <= 0:
            return BATCH_BUDGET, total_timeout
        room = max(2, limit - BATCH_OVERHEAD)
        budget = min(BATCH_BUDGET, max(1, room - total_timeout))
        return budget, min(total_timeout, room - budget)

    def _prepare_attempts(self):
        """(attempts to send, attempts that broke before sending): the
        signed request of each delivery, built here because the threads
        that send do not touch the database."""
        user_agent = f"coop-developer-settings/{MODULE_VERSION} (Odoo)"
        bodies = {}
        attempts, broken = [], []
        for delivery in self:
            endpoint = delivery.endpoint_id
            event = delivery.event_id
            attempt = batch.Attempt(delivery.id, endpoint.id, endpoint.url, b"", {})
            try:
                if event not in bodies:
                    bodies[event] = event._body()
                attempt.body = bodies[event]
                attempt.headers = {
                    "Content-Type": "application/json",
                    "User-Agent": user_agent,
                    **signing.headers(
                        endpoint._signing_secrets(),
                        event.public_id,
                        time.time(),
                        attempt.body,
                    ),
                }
            except Exception as exc:
                _logger.exception("webhook delivery %s: the attempt broke", delivery.id)
                attempt.started_at = time.time()
                attempt.outcome = client.internal_error(exc)
                broken.append(attempt)
                continue
            attempts.append(attempt)
        return attempts, broken

    def _record_attempts(self, attempts, settings):
        """Log the attempts, one row each, and move their deliveries on:
        done, retried on their schedule, or failed; disable the endpoints
        that answered 410 or have failed for too long."""
        deliveries = self.browse([attempt.key for attempt in attempts])
        self.env["coop.webhook.attempt"].sudo().create(
            [
                {
                    "delivery_id": attempt.key,
                    # In whole seconds, as fields.Datetime.now() gives them.
                    "attempted_at": datetime.fromtimestamp(
                        int(attempt.started_at), UTC
                    ).replace(tzinfo=None),
                    "status_code": attempt.outcome.status,
                    "duration_ms": int(attempt.outcome.duration * 1000),
                    "response": attempt.outcome.response,
                    "error": attempt.outcome.error,
                }
                for attempt in attempts
            ]
        )
        failing = {}
        for attempt in attempts:
            if attempt.outcome.disposition != "done":
                gone = attempt.outcome.disposition == "gone"
                failing[attempt.endpoint] = failing.get(attempt.endpoint) or gone
        disabled_now = self._record_endpoint_failures(failing)
        now = fields.Datetime.now()
        retries = {}
        by_values = {}
        for attempt, delivery in zip(attempts, deliveries, strict=True):
            outcome = attempt.outcome
            values = {
                "attempt_count": delivery.attempt_count + 1,
                "last_status": outcome.status,
                "last_error": outcome.error or False,
                "next_attempt_at": False,
                "state": "failed",
            }
            if outcome.disposition == "done":
                values["state"] = "done"
            elif outcome.disposition == "retry":
                delay = retry.next_delay(
                    values["attempt_count"],
                    settings.retry_schedule,
                    outcome.retry_after,
                )
                if attempt.endpoint in disabled_now:
                    # Disabled just now: what was to be retried is stopped.
                    values["state"] = "cancelled"
                elif delay is not None:
                    # Whole seconds: the retries due in the same second go
                    # in the same jobs.
                    delay = math.ceil(delay)
                    values["state"] = "retrying"
                    values["next_attempt_at"] = now + timedelta(seconds=delay)
                    retries.setdefault(delay, []).append(delivery.id)
            by_values.setdefault(tuple(sorted(values.items())), []).append(delivery.id)
        for values, ids in by_values.items():
            self.browse(ids).write(dict(values))
        for delay, ids in retries.items():
            self.browse(ids)._schedule(delay=delay)

    # ------------------------------------------------------------------
    # Actions and housekeeping
    # ------------------------------------------------------------------

    @api.model
    def _record_endpoint_failures(self, failing):
        """Let each endpoint of failing ({id: answered 410}) be disabled if
        it must be; returns the ids disabled.

        Each in a savepoint: an endpoint's row is its owner's, who may have
        written it since this job's snapshot (the receiver can make sure of
        it). The batch must not fail and be sent again for that: the check
        of that endpoint goes to a job of its own.
        """
        disabled = set()
        for endpoint in (
            self.env["coop.webhook.endpoint"].sudo().browse(sorted(failing))
        ):
            gone = failing[endpoint.id]
            try:
                with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                    if endpoint._record_failure(gone=gone):
                        disabled.add(endpoint.id)
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                endpoint.with_delay(
                    channel=CHANNEL,
                    description=f"Webhook endpoint #{endpoint.id}: failed deliveries",
                )._record_failure(gone=gone)
        return disabled

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
        finished.write({"state": "pending", "attempt_count": 0})
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
        return self.filtered(lambda delivery: delivery.state == "pending") - (
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
