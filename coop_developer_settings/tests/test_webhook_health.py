# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Endpoint health: the figures the tab shows, the warning before disabling,
the automatic disabling (410 Gone, five days of failures) and the index of
slow attempts."""

from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.tests import TransactionCase, tagged

from ..models import coop_webhook_attempt
from .common import WebhookCase
from .receiver import Receiver

HEALTH_FIELDS = [
    "failing_since",
    "disable_on",
    "last_attempt_at",
    "last_attempt_status",
    "last_attempt_ok",
    "last_attempt_error",
    "recent_done_count",
    "recent_failed_count",
]


@tagged("post_install", "-at_install")
class TestWarningBeforeDisabling(WebhookCase):
    """Day 3 of 5: one email and one chatter note to the owner, per failing
    streak, saying what fails, since when, and when it will be disabled."""

    def warn(self, at):
        with freeze_time(at):
            return self.env["coop.webhook.endpoint"]._cron_warn_failing()

    def warnings(self, endpoint):
        return self.env["mail.mail"].search(
            [("model", "=", endpoint._name), ("res_id", "=", endpoint.id)]
        )

    def notes(self, endpoint):
        return endpoint.message_ids.filtered(
            lambda message: message.subtype_id == self.env.ref("mail.mt_note")
            and "failing since" in message.body
        )

    def test_once_per_failing_streak_at_half_the_disable_period(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_retry_schedule", "1"
        )
        start = fields.Datetime.now()
        # Two failed attempts, then a success, then failures.
        script = [(503, {}, 0), (503, {}, 0), (200, {}, 0), (500, {}, 0)]
        with Receiver(*script) as receiver:
            with freeze_time(start):
                endpoint = self.endpoint(receiver.url)
                self.create_cycle(state="open")
                self.run_jobs()
            self.assertFalse(self.warn(start + timedelta(days=2, hours=11)))
            self.assertEqual(self.warn(start + timedelta(days=2, hours=12)), endpoint)
            self.assertFalse(self.warn(start + timedelta(days=3)), "once")
            self.assertFalse(self.warn(start + timedelta(days=4)), "once")
            [mail] = self.warnings(endpoint)
            self.assertEqual(len(self.notes(endpoint)), 1)
            self.assertEqual(mail.recipient_ids, self.developer.partner_id)
            self.assertIn(receiver.url, mail.subject)
            for expected in (
                receiver.url,
                "failing since",
                "503",
                "HTTP status",
                "/mail/view?model=coop.webhook.endpoint",
                f"res_id={endpoint.id}",
                "disabled on",
            ):
                self.assertIn(expected, mail.body_html)
            self.assertNotIn(endpoint._secret(), mail.body_html)
            # A success ends the streak; the next one is warned about again.
            with freeze_time(start + timedelta(days=4, hours=1)):
                endpoint.with_user(self.developer).action_send_test_event()
                self.run_jobs()
            with freeze_time(start + timedelta(days=4, hours=2)):
                self.create_cycle(state="open")
                self.run_jobs(rounds=1)
            self.assertFalse(self.warn(start + timedelta(days=5)))
            self.assertEqual(self.warn(start + timedelta(days=6, hours=14)), endpoint)
        self.assertEqual(len(self.warnings(endpoint)), 2)
        self.assertEqual(endpoint.state, "enabled", "a warning disables nothing")

    def test_the_owner_reads_it_in_their_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["coop_developer_settings"], ["fr_FR"], overwrite=True
        )
        self.developer.lang = "fr_FR"
        start = fields.Datetime.now()
        with Receiver((500, {}, 0)) as receiver, freeze_time(start):
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            self.run_jobs(rounds=1)
        self.warn(start + timedelta(days=3))
        [mail] = self.warnings(endpoint)
        self.assertIn("Votre webhook échoue", mail.subject)
        self.assertIn("Ouvrir le webhook", mail.body_html)


@tagged("post_install", "-at_install")
class TestEndpointHealth(WebhookCase):
    def test_last_delivery_failing_since_and_the_last_seven_days(self):
        params = self.env["ir.config_parameter"]
        params.set_param("coop_developer_settings.webhook_retry_schedule", "1")
        params.set_param("coop_developer_settings.webhook_disable_after_days", "10")
        start = fields.Datetime.now()
        with Receiver() as good, Receiver((503, {}, 0)) as bad:
            with freeze_time(start - timedelta(days=8)):
                healthy = self.endpoint(good.url)
                failing = self.endpoint(bad.url)
                idle = self.endpoint("https://hooks.example.org/idle", self.closed_type)
                self.create_cycle(state="open")
                self.run_jobs()
            # Queued 8 days ago: out of the last 7 days.
            self.env.flush_all()
            self.env.cr.execute(
                "UPDATE coop_webhook_delivery SET create_date = %s "
                "WHERE endpoint_id IN %s",
                [start - timedelta(days=8), (healthy.id, failing.id)],
            )
            with freeze_time(start):
                for _index in range(2):
                    self.create_cycle(state="open")
                self.run_jobs()
        endpoints = healthy | failing | idle
        endpoints.invalidate_recordset()
        self.assertEqual(
            [
                (
                    e.last_attempt_ok,
                    e.last_attempt_status,
                    e.recent_done_count,
                    e.recent_failed_count,
                )
                for e in endpoints
            ],
            [(True, 200, 2, 0), (False, 503, 0, 2), (False, 0, 0, 0)],
        )
        self.assertEqual(healthy.last_attempt_at, start)
        self.assertFalse(healthy.failing_since)
        self.assertEqual(failing.failing_since, start - timedelta(days=8))
        self.assertEqual(failing.disable_on, start + timedelta(days=2))
        self.assertEqual(failing.last_attempt_error, "ok", "the start of the answer")
        self.assertFalse(idle.last_attempt_at or idle.failing_since)

    def test_computed_for_all_the_endpoints_at_once(self):
        """The tab shows them for every endpoint: a fixed number of queries."""
        with Receiver((503, {}, 0)) as receiver:
            endpoints = self.env["coop.webhook.endpoint"].browse()
            for index in range(4):
                endpoints |= self.endpoint(f"{receiver.url}/{index}")
            self.create_cycle(state="open")
            self.run_jobs(rounds=1)

        def queries(records):
            self.env.flush_all()
            records.invalidate_recordset()
            before = self.env.cr.sql_log_count
            records.read(HEALTH_FIELDS)
            return self.env.cr.sql_log_count - before

        self.assertEqual(queries(endpoints[:1]), queries(endpoints))


@tagged("post_install", "-at_install")
class TestAutoDisable(WebhookCase):
    """An endpoint that is gone (410) or has failed for five days is
    disabled, and its owner told."""

    def test_410_disables_at_once_and_tells_the_owner(self):
        with Receiver((410, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            self.create_cycle(state="open")
            self.run_jobs()
        self.assertEqual(len(receiver.requests), 1)
        self.assertEqual(endpoint.state, "disabled")
        self.assertIn("410", endpoint.disabled_reason)
        notice = endpoint.message_ids.filtered(
            lambda m: self.developer.partner_id in m.partner_ids
        )
        self.assertTrue(notice, "the owner is notified")
        self.assertIn("re-enable", notice[0].body)
        self.assertNotIn(endpoint._secret(), notice[0].body)

    def test_five_days_of_failures_disable_and_notify(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_retry_schedule", "1,1,1,1,1"
        )
        with Receiver((500, {}, 0)) as receiver:
            endpoint = self.endpoint(receiver.url)
            start = fields.Datetime.now()
            with freeze_time(start):
                self.create_cycle(state="open")
                self.run_jobs(rounds=1)
            endpoint.invalidate_recordset(["failing_since"])
            self.assertEqual(endpoint.failing_since, start)
            with freeze_time(start + timedelta(days=4)):
                self.run_jobs(rounds=1)
            self.assertEqual(endpoint.state, "enabled")
            with freeze_time(start + timedelta(days=5, minutes=1)):
                self.run_jobs(rounds=1)
        self.assertEqual(endpoint.state, "disabled")
        self.assertIn("5 days", endpoint.disabled_reason)
        [delivery] = self.deliveries(endpoint)
        self.assertEqual(delivery.state, "cancelled")
        self.assertFalse(
            self.pending_jobs(), "no attempt after the endpoint is disabled"
        )
        # Re-enabling says what failed meanwhile; redelivering sends it again.
        notice = endpoint.with_user(self.developer).action_enable()
        self.assertIn("Redeliver failed", notice["params"]["message"])
        endpoint.with_user(self.developer).action_redeliver_failed()
        with Receiver() as receiver:
            endpoint.sudo().url = receiver.url
            self.run_jobs()
        self.assertEqual(delivery.state, "done")
        self.assertEqual(
            receiver.requests[0]["headers"]["webhook-id"], delivery.webhook_id
        )

    def test_record_failure_says_whether_it_disabled(self):
        endpoint = self.endpoint("https://hooks.example.org/x").sudo()
        self.assertFalse(endpoint._record_failure())
        self.assertTrue(endpoint._record_failure(gone=True))
        self.assertEqual(endpoint.state, "disabled")
        self.assertFalse(endpoint._record_failure(gone=True), "already disabled")


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
