# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The delivery jobs (queue_job): batches of deliveries per job within the
worker's time limit, one sender per delivery whatever runs at once, a job
that lost its database connection retried, stranded deliveries queued
again."""

import threading
import time
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import config, mute_logger

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job
from odoo.addons.queue_job.jobrunner.runner import Database

from ..models import coop_webhook_delivery, coop_webhook_delivery_job
from ..models.coop_webhook_delivery_job import CONNECTION_LOST_RETRY
from .common import CommittedEndpointCase, WebhookCase
from .receiver import RawReceiver, Receiver


@tagged("post_install", "-at_install")
class TestDeliveryBatches(WebhookCase):
    """Deliveries go in batches: one job sends many at once, each one
    keeping its own attempts, schedule and job."""

    def setUp(self):
        super().setUp()
        # No wait nor jitter between attempts: the retries of one batch are
        # due in the same second, so they go in one job.
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_retry_schedule", "0,0"
        )

    def endpoints(self, receiver, count):
        return self.env["coop.webhook.endpoint"].union(
            *(self.endpoint(f"{receiver.url}/{index}") for index in range(count))
        )

    def all_deliveries(self, endpoints):
        return self.env["coop.webhook.delivery"].search(
            [("endpoint_id", "in", endpoints.ids)], order="id"
        )

    def test_one_job_sends_the_deliveries_of_an_event_at_once(self):
        with Receiver((200, {}, 0.5)) as receiver:
            endpoints = self.endpoints(receiver, 6)
            self.create_cycle(state="open")
            deliveries = self.all_deliveries(endpoints)
            [job] = self.pending_jobs()
            self.assertEqual(set(deliveries.mapped("job_uuid")), {job.uuid})
            started = time.monotonic()
            self.run_jobs()
            elapsed = time.monotonic() - started
        # Six answers of 0.5 s each: at once, not one after the other.
        self.assertLess(elapsed, 2, "sent concurrently")
        self.assertEqual(set(deliveries.mapped("state")), {"done"})
        self.assertEqual(deliveries.mapped("attempt_count"), [1] * 6)
        self.assertEqual(len(deliveries.attempt_ids), 6, "one attempt each")
        self.assertEqual(
            sorted(request["path"] for request in receiver.requests),
            sorted(f"/hook/{index}" for index in range(6)),
        )
        self.assertEqual(
            {request["headers"]["webhook-id"] for request in receiver.requests},
            set(deliveries.mapped("webhook_id")),
        )

    def test_each_delivery_keeps_its_own_outcome_and_schedule(self):
        with (
            Receiver((200, {}, 0)) as ok,
            Receiver((503, {"Retry-After": "120"}, 0)) as busy,
            Receiver((410, {}, 0)) as gone,
        ):
            endpoints = [self.endpoint(receiver.url) for receiver in (ok, busy, gone)]
            self.create_cycle(state="open")
            self.run_jobs(rounds=1)
            delivered, retrying, failed = (
                self.deliveries(endpoint) for endpoint in endpoints
            )
        self.assertEqual((delivered.state, delivered.last_status), ("done", 200))
        self.assertEqual((retrying.state, retrying.last_status), ("retrying", 503))
        self.assertEqual((failed.state, failed.last_status), ("failed", 410))
        self.assertEqual(endpoints[2].state, "disabled", "gone: disabled")
        self.assertEqual(endpoints[1].state, "enabled")
        [retry_job] = self.pending_jobs()
        self.assertEqual(retrying.job_uuid, retry_job.uuid)
        self.assertGreaterEqual(
            (retrying.next_attempt_at - retrying.attempt_ids.attempted_at).seconds,
            120,
            "Retry-After honoured",
        )

    def test_deleting_one_endpoint_keeps_the_job_of_the_others(self):
        with Receiver((500, {}, 0), (500, {}, 0), (200, {}, 0)) as receiver:
            endpoints = self.endpoints(receiver, 2)
            self.create_cycle(state="open")
            self.run_jobs(rounds=1)
            [retry_job] = self.pending_jobs()
            kept, deleted = self.all_deliveries(endpoints)
            self.assertEqual(kept.job_uuid, deleted.job_uuid, "retried together")
            deleted.endpoint_id.with_user(self.developer).action_delete()
            self.assertEqual(retry_job.state, "pending", "still the other's job")
            self.run_jobs()
        self.assertEqual((kept.state, kept.attempt_count), ("done", 2))
        self.assertEqual(len(receiver.requests), 3)

    def test_the_redelivered_one_leaves_its_batch(self):
        with Receiver((500, {}, 0), (500, {}, 0)) as receiver:
            endpoints = self.endpoints(receiver, 2)
            self.create_cycle(state="open")
            self.run_jobs(rounds=1)
            [retry_job] = self.pending_jobs()
            first, second = self.all_deliveries(endpoints)
            receiver.script = [(200, {}, 0)]
            first.with_user(self.developer).action_redeliver()
            self.assertEqual(retry_job.state, "pending", "still the other's job")
            self.assertNotEqual(first.job_uuid, retry_job.uuid)
            self.run_jobs()
        self.assertEqual((first.state, first.attempt_count), ("done", 2))
        self.assertEqual((second.state, second.attempt_count), ("done", 2))
        self.assertIn("replaced by another job: 1", retry_job.result)
        self.assertEqual(len(receiver.requests), 4, "each sent twice, not three times")

    def test_what_does_not_start_within_the_time_budget_goes_to_a_new_job(self):
        with Receiver() as receiver:
            endpoints = self.endpoints(receiver, 3)
            self.create_cycle(state="open")
            [job] = self.pending_jobs()
            with patch.object(coop_webhook_delivery_job, "BATCH_BUDGET", 0):
                self.run_jobs(rounds=1)
            deliveries = self.all_deliveries(endpoints)
            self.assertEqual(receiver.requests, [])
            self.assertIn("sent in another job: 3", job.result)
            [next_job] = self.pending_jobs()
            self.assertEqual(set(deliveries.mapped("job_uuid")), {next_job.uuid})
            self.assertEqual(set(deliveries.mapped("state")), {"pending"})
            self.assertFalse(deliveries.attempt_ids, "no attempt was made")
            self.run_jobs()
        self.assertEqual(set(deliveries.mapped("state")), {"done"})
        self.assertEqual(len(receiver.requests), 3)

    def test_a_large_event_is_split_into_jobs_of_a_batch_each(self):
        with (
            Receiver() as receiver,
            patch.object(coop_webhook_delivery, "BATCH_SIZE", 2),
        ):
            endpoints = self.endpoints(receiver, 5)
            self.create_cycle(state="open")
            jobs = self.pending_jobs()
            self.assertEqual(len(jobs), 3)
            self.assertEqual(
                sorted(
                    len(deliveries)
                    for deliveries in self.all_deliveries(endpoints)
                    .grouped("job_uuid")
                    .values()
                ),
                [1, 2, 2],
            )
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 5)

    def test_a_slow_endpoint_gets_jobs_of_its_own(self):
        """A job lasts as long as its slowest attempt: once an endpoint has
        timed out, the others' deliveries are not in its jobs any more."""
        with Receiver() as healthy, Receiver((200, {}, 3)) as hanging:
            endpoints = self.endpoints(healthy, 2)
            slow = self.endpoint(hanging.url)
            self.create_cycle(state="open", name="First")
            self.assertEqual(len(self.pending_jobs()), 1, "none was slow yet")
            self.run_jobs(rounds=1)
            self.assertIn("timeout", self.deliveries(slow).last_error)
            self.create_cycle(state="open", name="Second")
            second = self.all_deliveries(endpoints | slow).filtered(
                lambda delivery: delivery.state == "pending"
            )
            self.assertEqual(len(second), 3)
            self.assertEqual(
                sorted(
                    sorted(group.endpoint_id.ids)
                    for group in second.grouped("job_uuid").values()
                ),
                sorted([endpoints.ids, slow.ids]),
            )
            # ... and give way to the others' when both wait.
            priorities = {
                job.uuid: job.priority
                for job in self.env["queue.job"].search(
                    [("uuid", "in", second.mapped("job_uuid"))]
                )
            }
            self.assertEqual(
                {
                    tuple(group.endpoint_id.ids): priorities[uuid]
                    for uuid, group in second.grouped("job_uuid").items()
                },
                {tuple(endpoints.ids): 10, tuple(slow.ids): 20},
            )

    def test_a_job_ends_within_the_workers_time_limit(self):
        """A job killed by limit_time_real would send its whole batch again:
        starting attempts, the last answer and the recording fit in it."""
        limits = self.env["coop.webhook.delivery"]._batch_limits
        overhead = coop_webhook_delivery_job.BATCH_OVERHEAD
        budget = coop_webhook_delivery_job.BATCH_BUDGET
        for limit in (0, 40, 60, 120, 600):
            for total_timeout in (1, 15, 60, 300):
                with (
                    self.subTest(limit=limit, total_timeout=total_timeout),
                    patch.dict(config.options, limit_time_real=limit),
                ):
                    start_for, each_for = limits(total_timeout)
                    self.assertGreaterEqual(min(start_for, each_for), 1)
                    if not limit or limit >= budget + total_timeout + overhead:
                        # Room enough (or no limit): as configured.
                        self.assertEqual((start_for, each_for), (budget, total_timeout))
                    else:
                        self.assertLessEqual(start_for + each_for + overhead, limit)

    def test_the_answer_timeout_is_cut_to_fit_the_limit(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_total_timeout", "15"
        )
        with (
            RawReceiver(RawReceiver.HANG) as hanging,
            patch.dict(config.options, limit_time_real=33),
        ):
            endpoint = self.endpoint(hanging.url)
            self.create_cycle(state="open")
            started = time.monotonic()
            self.run_jobs(rounds=1)
            elapsed = time.monotonic() - started
        # 33 s - 30 s of recording: 1 s to start attempts, 2 s each.
        self.assertIn("within 2s", self.deliveries(endpoint).last_error)
        self.assertLess(elapsed, 10)

    def fail_job_as_queue_job_does(self, record):
        """The worker died once more than the job's tries: queue_job's dead
        jobs requeuer fails it."""
        self.env.cr.execute(
            "UPDATE queue_job SET state = 'started', retry = max_retries + 1, "
            "date_enqueued = '2000-01-01' WHERE uuid = %s",
            [record.uuid],
        )
        self.env.cr.execute(Database._query_requeue_dead_jobs(None))
        record.invalidate_recordset()
        self.assertEqual(record.state, "failed")

    def test_deliveries_whose_job_failed_are_queued_again(self):
        with Receiver() as receiver:
            endpoints = self.endpoints(receiver, 3)
            self.create_cycle(state="open")
            [record] = self.pending_jobs()
            self.fail_job_as_queue_job_does(record)
            deliveries = self.all_deliveries(endpoints)
            self.assertEqual(set(deliveries.mapped("state")), {"pending"})
            cron = self.env.ref(
                "coop_developer_settings.ir_cron_requeue_stranded_webhook_deliveries"
            )
            cron.method_direct_trigger()
            jobs = self.pending_jobs()
            self.assertEqual(len(jobs), 3, "each in a job of its own")
            self.assertEqual(
                set(deliveries.mapped("job_uuid")), set(jobs.mapped("uuid"))
            )
            self.run_jobs()
            cron.method_direct_trigger()
        self.assertEqual(set(deliveries.mapped("state")), {"done"})
        self.assertEqual(len(receiver.requests), 3)
        self.assertEqual(self.pending_jobs(), self.env["queue.job"], "once only")

    def test_redeliver_sends_a_delivery_whose_job_failed(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_manual_send_interval", "0"
        )
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            [record] = self.pending_jobs()
            self.fail_job_as_queue_job_does(record)
            delivery = self.deliveries(endpoint)
            self.assertTrue(delivery.with_user(self.developer).action_redeliver())
            self.assertNotEqual(delivery.job_uuid, record.uuid)
            self.run_jobs()
        self.assertEqual(delivery.state, "done")


@tagged("post_install", "-at_install")
class TestOneDeliveryOneSender(CommittedEndpointCase):
    """Two jobs (a duplicate, or one of a redelivery) on one delivery, in
    two real transactions at once: one sends, never both. The records are
    committed first and removed at the end."""

    def create_deliveries(self, env, endpoint):
        event = env["coop.webhook.event"].create(
            {
                "event_type_id": env.ref(
                    "coop_developer_settings.webhook_event_test"
                ).id,
                "company_id": endpoint.user_id.company_id.id,
                "endpoint_id": endpoint.id,
                # A real sample: the receiver checks it against its schema.
                "data": {
                    **env["coop.sale.cycle"]._webhook_sample(
                        "sale_cycle.opened", endpoint.user_id
                    )[1],
                    "sample_of": "sale_cycle.opened",
                },
            }
        )
        delivery = env["coop.webhook.delivery"].create(
            {
                "event_id": event.id,
                "endpoint_id": endpoint.id,
                "user_id": endpoint.user_id.id,
                "company_id": endpoint.user_id.company_id.id,
                "event_type": "webhook.test",
                "job_uuid": "the-job",
            }
        )
        self.delivery_id = delivery.id

    def race(self, *workers):
        return super().race(
            "coop.webhook.delivery",
            self.delivery_id,
            *workers,
            refused=(RetryableJobError, UserError),
        )

    def delivery_state(self):
        with self.db.cursor() as cr:
            delivery = self.env_of(cr)["coop.webhook.delivery"].browse(self.delivery_id)
            return delivery.state, delivery.attempt_count

    def job(self, delivery):
        return delivery.with_context(job_uuid="the-job")._deliver_job()

    def job_a_moment_later(self, delivery):
        time.sleep(0.3)  # the first one holds the lock by then
        return self.job(delivery)

    def redeliver_a_moment_later(self, delivery):
        time.sleep(0.3)
        return delivery.action_redeliver()

    def test_two_jobs_at_once_send_once(self):
        outcomes = self.race(self.job, self.job_a_moment_later)
        self.assertEqual(outcomes, ["RetryableJobError", "done"])
        self.assertEqual(len(self.receiver.requests), 1)
        self.assertEqual(self.delivery_state(), ("done", 1))

    def test_waiting_for_another_jobs_lock_is_not_a_try(self):
        """queue_job counts each run of a job against its max_retries and
        fails a job found dead beyond them: the runs postponed while another
        job holds the deliveries must not use them up."""
        with self.db.cursor() as holder, self.db.cursor() as cr:
            holder.execute(
                "SELECT id FROM coop_webhook_delivery WHERE id = %s FOR UPDATE",
                [self.delivery_id],
            )
            delivery = self.env_of(cr)["coop.webhook.delivery"].browse(self.delivery_id)
            job = Job(delivery._deliver_job, job_uuid="the-job", max_retries=5)
            with self.assertRaises(RetryableJobError) as caught:
                job.perform()
            cr.rollback()
            holder.rollback()
        self.assertTrue(caught.exception.ignore_retry)
        self.assertEqual(job.retry, 0)
        self.assertEqual(self.receiver.requests, [])
        self.assertEqual(self.delivery_state(), ("pending", 0))

    def test_the_owner_writing_the_endpoint_meanwhile_fails_no_batch(self):
        """The receiver answers 410 after its owner wrote the endpoint (a
        commit after the job's snapshot): disabling it in the job's
        transaction would be a serialization failure, and the whole batch
        would be sent again, forever. The attempt is recorded; the endpoint
        is disabled by a job of its own."""
        self.receiver.script = [(410, {}, 1.0)]

        def owner_writes_the_endpoint(delivery):
            time.sleep(0.3)  # the job is waiting for the answer by then
            delivery.endpoint_id.write({"url": self.receiver.url})

        def job(delivery):
            # No email sent after the commit: in tests the registry is held.
            return self.job(delivery.with_context(mail_notify_force_send=False))

        outcomes = self.race(job, owner_writes_the_endpoint)
        self.assertEqual(outcomes, ["done", "done"])
        self.assertEqual(len(self.receiver.requests), 1)
        self.assertEqual(self.delivery_state(), ("failed", 1))
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            endpoint = env["coop.webhook.endpoint"].browse(self.endpoint_id)
            self.assertEqual(endpoint.state, "enabled", "not in the batch's job")
            [check] = (
                env["queue.job"]
                .search(
                    [("method_name", "=", "_record_failure"), ("state", "=", "pending")]
                )
                .filtered(lambda job: job.records == endpoint)
            )
            self.addCleanup(self.remove_job, check.uuid)
            self.assertEqual(check.channel, "root.webhook")
            job = Job.load(env, check.uuid)
            self.assertEqual((job.recordset, job.kwargs), (endpoint, {"gone": True}))
            job.recordset = job.recordset.with_context(mail_notify_force_send=False)
            job.perform()
            self.assertEqual(endpoint.state, "disabled")
            self.assertIn("410", endpoint.disabled_reason)

    def remove_job(self, uuid):
        with self.db.cursor() as cr:
            self.env_of(cr)["queue.job"].search([("uuid", "=", uuid)]).unlink()

    def test_redeliver_while_an_attempt_is_made(self):
        outcomes = self.race(self.job, self.redeliver_a_moment_later)
        self.assertEqual(outcomes, ["UserError", "done"])
        self.assertEqual(len(self.receiver.requests), 1)


@tagged("post_install", "-at_install")
class TestConnectionLostMidBatch(CommittedEndpointCase):
    """The job's connection is cut while it waits for the receiver, as a
    PostgreSQL restart does: the job asks queue_job to run it again soon,
    nothing of the batch is recorded, and the next run delivers it. The
    records are committed first and removed at the end."""

    def create_deliveries(self, env, endpoint):
        [delivery] = env["coop.webhook.delivery"]._enqueue_test_event(endpoint)
        self.delivery_id = delivery.id
        self.job_uuid = delivery.job_uuid

    @mute_logger("odoo.sql_db")  # the queries of the job that lost its connection
    def test_a_lost_connection_is_retried_within_seconds(self):
        outcome = []

        def run_job():
            cr = self.db.cursor()
            try:
                env = self.env_of(cr)
                cr.execute("SELECT pg_backend_pid()")
                outcome.append(cr.fetchone()[0])
                job = Job.load(env, self.job_uuid)
                try:
                    job.perform()
                    outcome.append("done")
                except Exception as exc:  # what queue_job's controller gets
                    outcome.append(exc)
            finally:
                try:
                    cr.close()
                except Exception:  # closing a connection that is gone
                    outcome.append("closed")

        thread = threading.Thread(target=run_job)
        thread.start()
        deadline = time.monotonic() + 10
        while not self.receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.receiver.requests), 1, "the job is sending")
        # PostgreSQL goes away under the job: its backend is terminated.
        with self.db.cursor() as cr:
            cr.execute("SELECT pg_terminate_backend(%s)", [outcome[0]])
        thread.join(30)
        error = outcome[1]
        self.assertIsInstance(error, RetryableJobError, "queue_job runs it again")
        self.assertFalse(error.ignore_retry, "a try: a database gone for good ends")
        self.assertEqual(error.seconds, CONNECTION_LOST_RETRY)
        self.assertLessEqual(CONNECTION_LOST_RETRY, 10)

        with self.db.cursor() as cr:
            env = self.env_of(cr)
            delivery = env["coop.webhook.delivery"].browse(self.delivery_id)
            self.assertEqual((delivery.state, delivery.attempt_count), ("pending", 0))
            self.assertFalse(delivery.attempt_ids, "nothing of the batch recorded")
            # Run again, it delivers the event, with the same webhook-id.
            Job.load(env, self.job_uuid).perform()
            self.assertEqual(delivery.state, "done")
            cr.commit()  # pylint: disable=invalid-commit
        ids = {request["headers"]["webhook-id"] for request in self.receiver.requests}
        self.assertEqual(len(self.receiver.requests), 2)
        self.assertEqual(len(ids), 1)


@tagged("post_install", "-at_install")
class TestStrandedDeliveriesCron(WebhookCase):
    """What still strands a delivery is queued again within minutes,
    cheaply."""

    def test_stranded_deliveries_are_requeued_within_minutes_cheaply(self):
        cron = self.env.ref(
            "coop_developer_settings.ir_cron_requeue_stranded_webhook_deliveries"
        )
        self.assertEqual((cron.interval_number, cron.interval_type), (2, "minutes"))
        self.assertTrue(cron.active)
        # Nothing stranded: one query, and nothing written.
        self.env.flush_all()
        with self.assertQueryCount(1):
            self.assertEqual(
                self.env["coop.webhook.delivery"]._cron_requeue_stranded(), 0
            )
