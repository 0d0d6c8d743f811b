# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The queue_job adapter of the outbox: one job sends a batch of
deliveries, one attempt each, records the attempts and moves the
deliveries on (done, retried on their schedule, failed)."""

import math
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg2

from odoo import api, fields, models
from odoo.modules.module import get_manifest
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL, config

from odoo.addons.queue_job.exception import RetryableJobError

from ..webhook import batch, client, retry, signing
from .coop_webhook_delivery import (
    CHANNEL,
    IN_FLIGHT,
    LOCKED_RETRY,
    STATE_CANCELLED,
    STATE_DONE,
    STATE_FAILED,
    STATE_RETRYING,
    _logger,  # the deliveries' one logger, whichever file logs
)

MODULE_VERSION = get_manifest("coop_developer_settings")["version"]
# A job starts attempts during this many seconds at most, then leaves the
# rest to a new job: a job ends within it plus one total timeout, well
# within the workers' time limit, whatever its receivers do.
BATCH_BUDGET = 30
# What a job needs besides its attempts (reading, recording): kept free
# of the workers' time limit when that limit shortens the budget.
BATCH_OVERHEAD = 30
# Seconds before a job that lost its database connection (a restart, a
# failover) runs again: the database is usually back by then.
CONNECTION_LOST_RETRY = 5
# Connection errors: libpq's own (no SQLSTATE), class 08, the server
# shutting down or restarting (57P01-57P03).
CONNECTION_LOST_SQLSTATES = ("57P01", "57P02", "57P03")


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
    """The job's side of the delivery: send, record, conclude."""

    _inherit = "coop.webhook.delivery"

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
        to_send = mine.filtered(lambda delivery: delivery.state in IN_FLIGHT)
        to_send = to_send._check_before_sending(summary)
        if to_send:
            summary.update(to_send._send_and_record())
        return (
            ", ".join(f"{what}: {count}" for what, count in summary.items() if count)
            or "nothing to do"
        )

    def _check_before_sending(self, summary):
        """The job's check, right before it sends: those of these deliveries
        that may still be sent. The others end here (counted in summary):
        expired when their event is stale now, cancelled when their endpoint
        is disabled or deleted or its owner may no longer receive them."""
        # The sale cycle may have closed since the deliveries were expired
        # at its transition (which skips those being sent), or the
        # transition committed after this job read them: never send late.
        expired = self._expire_stale()
        summary["expired"] = len(expired)
        to_send = self - expired
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
        summary["cancelled"] = len(disabled) + len(refused)
        return to_send - refused

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
        self._log_attempts(attempts)
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
            values, delay = delivery._after_attempt(
                attempt.outcome, attempt.endpoint in disabled_now, settings, now
            )
            if delay is not None:
                retries.setdefault(delay, []).append(delivery.id)
            by_values.setdefault(tuple(sorted(values.items())), []).append(delivery.id)
        for values, ids in by_values.items():
            self.browse(ids).write(dict(values))
        for delay, ids in retries.items():
            self.browse(ids)._schedule(delay=delay)

    def _log_attempts(self, attempts):
        """One coop.webhook.attempt row per attempt."""
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

    def _after_attempt(self, outcome, endpoint_disabled, settings, now):
        """(the values of this delivery after an attempt of that outcome,
        the seconds before its next attempt or None): done, retried on the
        schedule, or failed; cancelled when its endpoint was disabled just
        now."""
        values = {
            "attempt_count": self.attempt_count + 1,
            "last_status": outcome.status,
            "last_error": outcome.error or False,
            "next_attempt_at": False,
            "state": STATE_FAILED,
        }
        if outcome.disposition == "done":
            values["state"] = STATE_DONE
        elif outcome.disposition == "retry":
            delay = retry.next_delay(
                values["attempt_count"], settings.retry_schedule, outcome.retry_after
            )
            if endpoint_disabled:
                # Disabled just now: what was to be retried is stopped.
                values["state"] = STATE_CANCELLED
            elif delay is not None:
                # Whole seconds: the retries due in the same second go in the
                # same jobs.
                delay = math.ceil(delay)
                values["state"] = STATE_RETRYING
                values["next_attempt_at"] = now + timedelta(seconds=delay)
                return values, delay
        return values, None

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
                with self.env.cr.savepoint():
                    # Refused here if the row changed since this job's
                    # snapshot: expected, not a query error (and not
                    # mute_logger: it mutes every thread of the process).
                    self.env.cr.execute(
                        SQL(
                            "SELECT id FROM coop_webhook_endpoint WHERE id = %s "
                            "FOR NO KEY UPDATE",
                            endpoint.id,
                        ),
                        log_exceptions=False,
                    )
                    if endpoint._record_failure(gone=gone):
                        disabled.add(endpoint.id)
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                endpoint.with_delay(
                    channel=CHANNEL,
                    description=f"Webhook endpoint #{endpoint.id}: failed deliveries",
                )._record_failure(gone=gone)
        return disabled
