# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Webhook endpoints' lifecycle: create, edit, disable, enable, delete (from
the ORM and over XML-RPC), with bad input refused and a cap per user, and a
delete while a job is sending to the endpoint."""

import threading
import time
from xmlrpc.client import Fault

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import CANCELLED, Job

from .common import LOCAL_RECEIVER_PARAMS, CommittedEndpointCase, WebhookCase
from .receiver import RawReceiver

GOOD_URL = "https://hooks.example.org/coop"
DELETED = "Webhook endpoint deleted."


@tagged("post_install", "-at_install")
class TestWebhookEndpoints(WebhookCase):
    def test_create_edit_disable_enable_delete(self):
        endpoint = self.endpoint(GOOD_URL)
        self.assertEqual(
            (endpoint.state, endpoint.user_id), ("enabled", self.developer)
        )
        self.assertTrue(endpoint._secret().startswith("whsec_"))
        as_owner = endpoint.with_user(self.developer)
        as_owner.url = "https://hooks.example.org/other"
        as_owner.action_disable()
        self.assertEqual(endpoint.state, "disabled")
        as_owner.action_enable()
        self.assertEqual(endpoint.state, "enabled")
        as_owner.action_delete()
        self.assertFalse(endpoint.exists())

    def test_bad_input_is_refused_with_no_record(self):
        Endpoint = self.env["coop.webhook.endpoint"].with_user(self.developer)
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_allow_http", ""
        )
        count = Endpoint.search_count([])
        for url in (
            "not a url",
            "ftp://example.org/x",
            "http://example.org/x",
            "https://192.168.0.2/x",
            "https://user:pw@example.org/x",
            "https://example.org/" + "x" * 2050,
            "",
        ):
            with self.subTest(url=url[:40]), self.assertRaises(ValidationError):
                Endpoint.create({"event_type_id": self.opened_type.id, "url": url})
        for event_type in (
            self.env.ref("coop_developer_settings.webhook_event_test").id,
            999999,
        ):
            with self.assertRaises(ValidationError):
                Endpoint.create({"event_type_id": event_type, "url": GOOD_URL})
        self.assertEqual(Endpoint.search_count([]), count)
        endpoint = self.endpoint(GOOD_URL)
        with self.assertRaises(ValidationError):
            endpoint.with_user(self.developer).url = "https://10.1.2.3/x"
        self.assertEqual(endpoint.url, GOOD_URL)

    def test_at_most_ten_per_user_and_type(self):
        for index in range(10):
            self.endpoint(f"{GOOD_URL}/{index}")
        with self.assertRaises(ValidationError):
            self.endpoint(f"{GOOD_URL}/11")
        self.endpoint(GOOD_URL, self.closed_type)  # another type: fine

    def test_owners_only_and_no_field_holds_the_secret(self):
        endpoint = self.endpoint(GOOD_URL)
        other = new_test_user(
            self.env,
            login="coop-other-dev",
            groups="base.group_user,coop_developer_settings.group_developer_settings",
        )
        Endpoint = self.env["coop.webhook.endpoint"]
        self.assertFalse(Endpoint.with_user(other).search([("id", "=", endpoint.id)]))
        with self.assertRaises(AccessError):
            endpoint.with_user(other).read(["url"])
        # No field holds the secret: Secret shows it, after the password.
        with self.assertRaisesRegex(ValueError, "Invalid field"):
            endpoint.with_user(self.developer).read(["secret"])
        with self.assertRaises(AccessError):
            Endpoint.with_user(other).create(
                {
                    "event_type_id": self.opened_type.id,
                    "url": GOOD_URL,
                    "user_id": self.developer.id,
                }
            )
        plain = new_test_user(
            self.env, login="coop-no-access", groups="base.group_user"
        )
        with self.assertRaises(AccessError):
            Endpoint.with_user(plain).create(
                {"event_type_id": self.opened_type.id, "url": GOOD_URL}
            )

    def test_removing_the_access_disables_the_webhooks(self):
        endpoint = self.endpoint(GOOD_URL)
        self.developer.write(
            {
                "groups_id": [
                    Command.unlink(
                        self.env.ref(
                            "coop_developer_settings.group_developer_settings"
                        ).id
                    )
                ]
            }
        )
        self.assertEqual(endpoint.state, "disabled")


@tagged("post_install", "-at_install")
class TestWebhookEndpointsOverXmlrpc(HttpCase):
    def test_create_edit_disable_delete_over_xmlrpc(self):
        new_test_user(
            self.env,
            login="coop-rpc-dev",
            groups="base.group_user,coop_developer_settings.group_developer_settings",
        )
        db = self.env.cr.dbname
        uid = self.xmlrpc_common.authenticate(db, "coop-rpc-dev", "coop-rpc-dev", {})
        event_type = self.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_opened"
        )

        def call(method, *args, **kwargs):
            return self.xmlrpc_object.execute_kw(
                db,
                uid,
                "coop-rpc-dev",
                "coop.webhook.endpoint",
                method,
                list(args),
                kwargs,
            )

        endpoint_id = call("create", {"event_type_id": event_type.id, "url": GOOD_URL})
        call("write", [endpoint_id], {"url": GOOD_URL + "/v2"})
        call("action_disable", [endpoint_id])
        [row] = call("read", [endpoint_id], ["url", "state", "event_type"])
        self.assertEqual(
            (row["url"], row["state"], row["event_type"]),
            (GOOD_URL + "/v2", "disabled", "sale_cycle.opened"),
        )
        with (
            self.assertRaisesRegex(Fault, "Invalid field"),
            mute_logger("odoo.http"),
        ):
            call("read", [endpoint_id], ["secret"])
        with (
            self.assertRaisesRegex(Fault, "private, local or reserved"),
            mute_logger("odoo.http"),
        ):
            call(
                "create", {"event_type_id": event_type.id, "url": "https://127.0.0.1/x"}
            )
        with (
            self.assertRaisesRegex(Fault, "Unknown event type"),
            mute_logger("odoo.http"),
        ):
            call("create", {"event_type_id": 999999, "url": GOOD_URL})
        call("unlink", [endpoint_id])
        self.assertFalse(call("search", [("id", "=", endpoint_id)]))

        # Reminders: the lead time is chosen when subscribing.
        closing_soon = self.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_closing_soon"
        )
        reminder_id = call(
            "create",
            {"event_type_id": closing_soon.id, "url": GOOD_URL, "lead_time_hours": 6},
        )
        [row] = call("read", [reminder_id], ["event_type", "lead_time_hours"])
        self.assertEqual(
            (row["event_type"], row["lead_time_hours"]), ("sale_cycle.closing_soon", 6)
        )
        with (
            self.assertRaisesRegex(Fault, "lead time is from 1 to 168 hours"),
            mute_logger("odoo.http"),
        ):
            call(
                "create",
                {
                    "event_type_id": closing_soon.id,
                    "url": GOOD_URL,
                    "lead_time_hours": 0,
                },
            )


@tagged("post_install", "-at_install")
class TestDeleteWhileSending(CommittedEndpointCase):
    """Deleting an endpoint while a real job sends one of its deliveries to
    a receiver that never answers: the delete answers at once, the endpoint
    is gone for its owner and receives nothing more, its deliveries end
    cancelled with the reason, and it is removed once the job is over. The
    records are committed first and removed at the end."""

    params = {
        **LOCAL_RECEIVER_PARAMS,
        # The receiver never answers: the job holds its deliveries this long.
        "coop_developer_settings.webhook_total_timeout": "6",
    }

    def new_receiver(self):
        return RawReceiver(RawReceiver.HANG)

    def create_deliveries(self, env, endpoint):
        # Two test events: one is being sent, the other waits for its job.
        deliveries = env["coop.webhook.delivery"]._enqueue_test_event(endpoint) | env[
            "coop.webhook.delivery"
        ]._enqueue_test_event(endpoint)
        self.sent_id, self.waiting_id = deliveries.ids
        self.sent_job = deliveries[0].job_uuid

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
