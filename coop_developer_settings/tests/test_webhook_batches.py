# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Deliveries go in batches: one job sends many at once, each one keeping
its own attempts, schedule and job."""

import time
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools import config

from odoo.addons.queue_job.jobrunner.runner import Database

from ..models import (
    coop_webhook_attempt,
    coop_webhook_delivery,
    coop_webhook_delivery_job,
)
from .common import WebhookCase, new_developer
from .receiver import RawReceiver, Receiver


@tagged("post_install", "-at_install")
class TestDeliveryBatches(WebhookCase):
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

    def hand_over(self, receiver):
        """An endpoint with one past delivery, handed by an administrator to
        a colleague: (endpoint, past delivery, colleague)."""
        colleague = new_developer(self.env, "coop-new-owner", self.company)
        endpoint = self.endpoint(receiver.url)
        self.create_cycle(state="open")
        self.run_jobs()
        past = self.deliveries(endpoint)
        endpoint.sudo()._change_owner(colleague)
        return endpoint, past, colleague

    def test_the_previous_owner_cannot_redeliver(self):
        """After Change owner, the previous owner keeps their past
        deliveries but sends nothing more, nor uses up the new owner's
        manual sends."""
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_manual_send_interval", "10"
        )
        with Receiver() as receiver:
            endpoint, past, colleague = self.hand_over(receiver)
            with self.assertRaisesRegex(UserError, "another owner"):
                past.with_user(self.developer).action_redeliver()
            endpoint.with_user(colleague).action_send_test_event()
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 2)

    def test_the_previous_owner_does_not_read_the_new_owners_url(self):
        with Receiver() as receiver:
            endpoint, past, colleague = self.hand_over(receiver)
        new_url = "https://hooks.example.org/catch/4242/new-owner-token"
        endpoint.with_user(colleague).write({"url": new_url})
        [seen] = past.with_user(self.developer).read(["url", "endpoint_id"])
        self.assertFalse(seen["url"])
        self.assertEqual(
            seen["endpoint_id"],
            (endpoint.id, f"Endpoint {endpoint.id} of another user"),
        )
        admin = self.env.ref("base.user_admin")
        [seen] = past.with_user(admin).read(["url", "endpoint_id"])
        self.assertEqual((seen["url"], seen["endpoint_id"][1]), (new_url, new_url))


@tagged("post_install", "-at_install")
class TestSlowAttemptsIndex(TransactionCase):
    """The partial index of the slow attempts follows SLOW_ATTEMPT_MS across
    upgrades (Odoo's create_index alone keeps an existing name as it is)."""

    INDEX = "coop_webhook_attempt_slow_index"

    def condition(self):
        self.env.cr.execute(
            "SELECT pg_get_expr(indpred, indrelid) FROM pg_index"
            " WHERE indexrelid = to_regclass(%s)",
            [self.INDEX],
        )
        return self.env.cr.fetchone()[0]

    def test_the_index_takes_the_threshold_of_the_code(self):
        Attempt = self.env["coop.webhook.attempt"]
        # As an earlier release left it: the same name, another threshold.
        self.env.cr.execute(
            f"DROP INDEX {self.INDEX};"
            f" CREATE INDEX {self.INDEX} ON coop_webhook_attempt (attempted_at)"
            " WHERE duration_ms >= 9999"
        )
        Attempt.init()  # what an upgrade runs
        current = coop_webhook_attempt.SLOW_ATTEMPT_MS
        self.assertIn(f"(duration_ms >= {current})", self.condition())
        with patch.object(coop_webhook_attempt, "SLOW_ATTEMPT_MS", current + 500):
            Attempt.init()
        self.assertIn(f"(duration_ms >= {current + 500})", self.condition())
        Attempt.init()
        self.assertIn(f"(duration_ms >= {current})", self.condition())
