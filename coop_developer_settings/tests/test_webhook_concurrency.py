# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import time

from odoo import sql_db
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

from .common import RealTransactionsMixin
from .receiver import Receiver

PARAMS = {
    "coop_developer_settings.allowed_private_networks": "127.0.0.0/8",
    "coop_developer_settings.webhook_allow_http": "1",
}


@tagged("post_install", "-at_install")
class TestOneDeliveryOneSender(RealTransactionsMixin, TransactionCase):
    """Two jobs (a duplicate, or one of a redelivery) on one delivery, in
    two real transactions at once: one sends, never both. The records are
    committed first and removed at the end."""

    def setUp(self):
        super().setUp()
        self.db = sql_db.db_connect(self.env.cr.dbname)
        self.receiver = Receiver((200, {}, 1.0)).__enter__()
        self.addCleanup(self.receiver.__exit__, None, None, None)
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            params = env["ir.config_parameter"]
            self.saved_params = {key: params.get_param(key) for key in PARAMS}
            for key, value in PARAMS.items():
                params.set_param(key, value)
            admin = env.ref("base.user_admin")
            endpoint = env["coop.webhook.endpoint"].create(
                {
                    "user_id": admin.id,
                    "event_type_id": env.ref(
                        "coop_developer_settings.webhook_event_sale_cycle_opened"
                    ).id,
                    "url": self.receiver.url,
                }
            )
            event = env["coop.webhook.event"].create(
                {
                    "event_type_id": env.ref(
                        "coop_developer_settings.webhook_event_test"
                    ).id,
                    "company_id": admin.company_id.id,
                    "endpoint_id": endpoint.id,
                    # A real sample: the receiver checks it against its schema.
                    "data": {
                        **env["coop.sale.cycle"]._webhook_sample(
                            "sale_cycle.opened", admin
                        )[1],
                        "sample_of": "sale_cycle.opened",
                    },
                }
            )
            delivery = env["coop.webhook.delivery"].create(
                {
                    "event_id": event.id,
                    "endpoint_id": endpoint.id,
                    "user_id": admin.id,
                    "company_id": admin.company_id.id,
                    "event_type": "webhook.test",
                    "job_uuid": "the-job",
                }
            )
            self.endpoint_id, self.delivery_id = endpoint.id, delivery.id
        self.addCleanup(self.remove_records)

    def remove_records(self):
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            env["coop.webhook.endpoint"].browse(self.endpoint_id).unlink()
            params = env["ir.config_parameter"]
            for key, value in self.saved_params.items():
                params.set_param(key, value or False)

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
