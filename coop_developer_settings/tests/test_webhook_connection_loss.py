# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A delivery job whose database connection is lost (PostgreSQL restarted,
a failover) is run again by queue_job within seconds; what still strands a
delivery is queued again within minutes, cheaply."""

import threading
import time

from odoo import sql_db
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

from ..models.coop_webhook_delivery_job import CONNECTION_LOST_RETRY
from .common import RealTransactionsMixin, WebhookCase
from .receiver import Receiver

PARAMS = {
    "coop_developer_settings.allowed_private_networks": "127.0.0.0/8",
    "coop_developer_settings.webhook_allow_http": "1",
}


@tagged("post_install", "-at_install")
class TestConnectionLostMidBatch(RealTransactionsMixin, TransactionCase):
    """The job's connection is cut while it waits for the receiver, as a
    PostgreSQL restart does: the job asks queue_job to run it again soon,
    nothing of the batch is recorded, and the next run delivers it. The
    records are committed first and removed at the end."""

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
            self.last_job_id = env["queue.job"].search([], limit=1, order="id desc").id
            endpoint = env["coop.webhook.endpoint"].create(
                {
                    "user_id": env.ref("base.user_admin").id,
                    "event_type_id": env.ref(
                        "coop_developer_settings.webhook_event_sale_cycle_opened"
                    ).id,
                    "url": self.receiver.url,
                }
            )
            [delivery] = env["coop.webhook.delivery"]._enqueue_test_event(endpoint)
            self.endpoint_id, self.delivery_id = endpoint.id, delivery.id
            self.job_uuid = delivery.job_uuid
        self.addCleanup(self.remove_records)

    def remove_records(self):
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            env["coop.webhook.endpoint"].browse(self.endpoint_id).unlink()
            env["queue.job"].search([("id", ">", self.last_job_id)]).unlink()
            params = env["ir.config_parameter"]
            for key, value in self.saved_params.items():
                params.set_param(key, value or False)

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
