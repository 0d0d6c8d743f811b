# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Queries that a concurrent transaction may refuse (a lock held, a race
lost) are run without the SQL error log, never under ``mute_logger``: that
swaps the handlers of ``odoo.sql_db`` for the whole process, so every other
thread's real SQL errors were swallowed meanwhile, and two of them at once
could leave the logger muted for good."""

import logging
from contextlib import contextmanager
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import WebhookCase


@tagged("post_install", "-at_install")
class TestExpectedRefusalsMuteNoLogger(WebhookCase):
    @contextmanager
    def queries_logged(self):
        """The queries odoo.sql_db logs meanwhile, to a handler of its own:
        none while something has muted it."""
        logger = logging.getLogger("odoo.sql_db")
        logged = []
        handler = logging.Handler(logging.DEBUG)
        handler.emit = lambda record: logged.append(record.getMessage())
        level, propagate = logger.level, logger.propagate
        debug_before = logger.isEnabledFor(logging.DEBUG)
        logger.addHandler(handler)
        # Every query at DEBUG, to this handler only (not the test log).
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        try:
            yield logged
        finally:
            logger.removeHandler(handler)
            # setLevel, not the attribute: it clears the loggers' cache of
            # enabled levels (else every query is logged from then on).
            logger.setLevel(level)
            logger.propagate = propagate
        self.assertEqual(logger.isEnabledFor(logging.DEBUG), debug_before)

    def assertLogged(self, logged, fragment):
        self.assertTrue(
            any(fragment in line for line in logged),
            f"no query with {fragment!r} reached the logger's handlers",
        )

    def test_an_api_key_use_stamped(self):
        key = (
            self.env["res.users.apikeys"]
            .with_user(self.developer)
            ._generate(None, "Shop sync", fields.Datetime.now() + timedelta(days=30))
        )
        with self.queries_logged() as logged:
            self.env["res.users.apikeys"]._coop_record_use(self.developer.id, key)
        self.assertLogged(logged, "INSERT INTO coop_api_key_usage")
        self.assertTrue(
            self.env["coop.api.key.usage"].search(
                [("key_id.user_id", "=", self.developer.id)]
            )
        )

    def test_an_endpoint_marked_deleted(self):
        # What unlink does to an endpoint a job is sending to.
        endpoint = self.endpoint("https://shop.example.org/hooks")
        with self.queries_logged() as logged:
            endpoint._mark_deleted()
        self.assertLogged(logged, "FROM coop_webhook_endpoint WHERE id IN")
        self.assertFalse(endpoint.active)

    def test_a_failing_endpoint_warning_claimed(self):
        endpoint = self.endpoint("https://shop.example.org/hooks")
        with self.queries_logged() as logged:
            self.assertTrue(endpoint._claim_warning(fields.Datetime.now()))
        self.assertLogged(logged, "UPDATE coop_webhook_endpoint SET warned_failing")

    def test_deliveries_locked(self):
        endpoint = self.endpoint("https://shop.example.org/hooks")
        deliveries = self.env["coop.webhook.delivery"]._enqueue_test_event(endpoint)
        with self.queries_logged() as logged:
            self.assertEqual(deliveries._lock(), deliveries)
        self.assertLogged(logged, "FROM coop_webhook_delivery WHERE id IN")

    def test_a_due_cycle_moved_by_the_cron(self):
        cycle = self.create_cycle(state="scheduled")
        due = [("id", "=", cycle.id), ("state", "=", "scheduled")]
        with self.queries_logged() as logged:
            self.Cycle._process_due(due, "action_open")
        self.assertLogged(logged, "FROM coop_sale_cycle WHERE id IN")
        self.assertEqual(cycle.state, "open")

    def test_a_gone_endpoint_disabled_by_its_delivery_job(self):
        endpoint = self.endpoint("https://shop.example.org/hooks")
        with self.queries_logged() as logged:
            disabled = self.env["coop.webhook.delivery"]._record_endpoint_failures(
                {endpoint.id: True}
            )
        self.assertLogged(logged, "FROM coop_webhook_endpoint WHERE id =")
        self.assertEqual((disabled, endpoint.state), ({endpoint.id}, "disabled"))
