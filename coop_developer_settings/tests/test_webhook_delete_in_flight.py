# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import threading
import time

from odoo import sql_db
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import CANCELLED, Job

from .common import RealTransactionsMixin
from .receiver import RawReceiver

PARAMS = {
    "coop_developer_settings.allowed_private_networks": "127.0.0.0/8",
    "coop_developer_settings.webhook_allow_http": "1",
    # The receiver never answers: the job holds its deliveries this long.
    "coop_developer_settings.webhook_total_timeout": "6",
}
DELETED = "Webhook endpoint deleted."


@tagged("post_install", "-at_install")
class TestDeleteWhileSending(RealTransactionsMixin, TransactionCase):
    """Deleting an endpoint while a real job sends one of its deliveries to
    a receiver that never answers: the delete answers at once, the endpoint
    is gone for its owner and receives nothing more, its deliveries end
    cancelled with the reason, and it is removed once the job is over. The
    records are committed first and removed at the end."""

    def setUp(self):
        super().setUp()
        self.db = sql_db.db_connect(self.env.cr.dbname)
        self.receiver = RawReceiver(RawReceiver.HANG).__enter__()
        self.addCleanup(self.receiver.__exit__, None, None, None)
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            params = env["ir.config_parameter"]
            self.saved_params = {key: params.get_param(key) for key in PARAMS}
            for key, value in PARAMS.items():
                params.set_param(key, value)
            self.owner_id = env.ref("base.user_admin").id
            self.last_job_id = env["queue.job"].search([], limit=1, order="id desc").id
            endpoint = env["coop.webhook.endpoint"].create(
                {
                    "user_id": self.owner_id,
                    "event_type_id": env.ref(
                        "coop_developer_settings.webhook_event_sale_cycle_opened"
                    ).id,
                    "url": self.receiver.url,
                }
            )
            # Two test events: one is being sent, the other waits for its job.
            deliveries = env["coop.webhook.delivery"]._enqueue_test_event(
                endpoint
            ) | env["coop.webhook.delivery"]._enqueue_test_event(endpoint)
            self.endpoint_id = endpoint.id
            self.sent_id, self.waiting_id = deliveries.ids
            self.sent_job = deliveries[0].job_uuid
        self.addCleanup(self.remove_records)

    def remove_records(self):
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            endpoint = (
                env["coop.webhook.endpoint"]
                .with_context(active_test=False)
                .browse(self.endpoint_id)
                .exists()
            )
            if endpoint:
                endpoint.unlink()
            env["queue.job"].search([("id", ">", self.last_job_id)]).unlink()
            params = env["ir.config_parameter"]
            for key, value in self.saved_params.items():
                params.set_param(key, value or False)

    def send_in_a_job(self):
        """The delivery job, as queue_job runs it, in a thread: its
        transaction commits when its attempt has timed out."""
        outcome = []

        def run():
            with self.db.cursor() as cr:
                env = self.env_of(cr)
                delivery = env["coop.webhook.delivery"].browse(self.sent_id)
                outcome.append(
                    delivery.with_context(job_uuid=self.sent_job)._deliver_job()
                )
                cr.commit()  # pylint: disable=invalid-commit

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 10
        while not self.receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.receiver.requests), 1, "the job is sending")
        return thread, outcome

    def removal_job(self, env):
        [job] = env["queue.job"].search([("method_name", "=", "_remove_deleted")])
        job = Job.load(env, job.uuid)
        self.assertEqual(job.recordset.ids, [self.endpoint_id])
        return job

    def test_delete_while_a_job_sends_answers_at_once(self):
        thread, outcome = self.send_in_a_job()
        started = time.monotonic()
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            owner = env["res.users"].browse(self.owner_id)
            endpoint = env["coop.webhook.endpoint"].with_user(owner)
            endpoint.browse(self.endpoint_id).action_delete()
            cr.commit()  # pylint: disable=invalid-commit
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, 2, "the delete does not wait for the job")
        self.assertTrue(thread.is_alive(), "the job was still sending")

        with self.db.cursor() as cr:
            env = self.env_of(cr)
            owner = env["res.users"].browse(self.owner_id)
            Endpoint = env["coop.webhook.endpoint"]
            self.assertFalse(
                Endpoint.with_user(owner).search([("id", "=", self.endpoint_id)]),
                "gone for its owner at once",
            )
            self.assertNotIn(
                self.endpoint_id, owner.coop_webhook_endpoint_ids.ids, "not listed"
            )
            self.assertEqual(
                Endpoint.search_count([("user_id", "=", self.owner_id)]),
                Endpoint.search_count(
                    [("user_id", "=", self.owner_id), ("id", "!=", self.endpoint_id)]
                ),
                "not counted",
            )
            waiting = env["coop.webhook.delivery"].browse(self.waiting_id)
            self.assertEqual(
                (waiting.state, waiting.last_error), ("cancelled", DELETED)
            )
            # The job of the other delivery is still busy: the removal waits
            # for it, without waiting.
            job = self.removal_job(env)
            started = time.monotonic()
            with self.assertRaises(RetryableJobError) as caught:
                job.perform()
            self.assertLess(time.monotonic() - started, 1)
            self.assertTrue(caught.exception.ignore_retry)
            cr.rollback()

        thread.join(30)
        self.assertFalse(thread.is_alive())
        self.assertEqual(outcome, ["retry: 1"], "the job ended cleanly")
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            sent = env["coop.webhook.delivery"].browse(self.sent_id)
            self.assertEqual(sent.state, "retrying")
            [retry] = env["queue.job"].search([("uuid", "=", sent.job_uuid)])
            # The next attempt finds the endpoint deleted: nothing is sent.
            Job.load(env, retry.uuid).perform()
            self.assertEqual((sent.state, sent.last_error), ("cancelled", DELETED))
            self.removal_job(env).perform()
            cr.commit()  # pylint: disable=invalid-commit
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            Endpoint = env["coop.webhook.endpoint"].with_context(active_test=False)
            self.assertFalse(Endpoint.browse(self.endpoint_id).exists(), "removed")
            self.assertFalse(
                env["coop.webhook.delivery"]
                .browse([self.sent_id, self.waiting_id])
                .exists()
            )
        self.assertEqual(len(self.receiver.requests), 1, "nothing sent after")

    def test_the_removal_cancels_what_was_queued_since(self):
        """The job ended with a retry queued: the removal ends that job with
        the reason, and removes everything."""
        thread, _outcome = self.send_in_a_job()
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            env["coop.webhook.endpoint"].browse(self.endpoint_id).unlink()
            cr.commit()  # pylint: disable=invalid-commit
        thread.join(30)
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            retry_uuid = env["coop.webhook.delivery"].browse(self.sent_id).job_uuid
            self.assertEqual(
                self.removal_job(env).perform(),
                "removed: 1 endpoints, 2 deliveries",
            )
            [retry] = env["queue.job"].search([("uuid", "=", retry_uuid)])
            self.assertEqual((retry.state, retry.result), (CANCELLED, DELETED))
            cr.commit()  # pylint: disable=invalid-commit

    def test_a_free_endpoint_is_removed_at_once(self):
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            env["coop.webhook.endpoint"].browse(self.endpoint_id).unlink()
            Endpoint = env["coop.webhook.endpoint"].with_context(active_test=False)
            self.assertFalse(Endpoint.browse(self.endpoint_id).exists())
            self.assertFalse(
                env["queue.job"].search([("method_name", "=", "_remove_deleted")])
            )
            cr.commit()  # pylint: disable=invalid-commit

    def test_deleting_the_owner_while_a_job_sends_refuses_at_once(self):
        """The cascade from the user to the deliveries would wait for the
        job: the deletion is refused at once, saying what to do, and goes
        through once the job is over."""
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            owner = new_test_user(
                env,
                login="coop-owner-deleted-while-sending",
                groups="base.group_user,coop_developer_settings.group_developer_settings",
            )
            env["coop.webhook.endpoint"].browse(self.endpoint_id)._change_owner(owner)
            owner_id = owner.id
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self.remove_user, owner_id)
        thread, _outcome = self.send_in_a_job()
        started = time.monotonic()
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            with self.assertRaisesRegex(UserError, "being sent right now"):
                env["res.users"].browse(owner_id).unlink()
            cr.rollback()
        self.assertLess(time.monotonic() - started, 2, "no wait for the job")
        self.assertTrue(thread.is_alive(), "the job was still sending")
        thread.join(30)
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            env["res.users"].browse(owner_id).unlink()
            Endpoint = env["coop.webhook.endpoint"].with_context(active_test=False)
            self.assertFalse(Endpoint.browse(self.endpoint_id).exists())
            cr.commit()  # pylint: disable=invalid-commit

    def remove_user(self, user_id):
        with self.db.cursor() as cr:
            self.env_of(cr)["res.users"].browse(user_id).exists().unlink()
