# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Manual re-sends (Redeliver, the resends) are bounded per request, and
never delay the other users' live events."""

import time

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.queue_job.jobrunner.channels import ChannelManager

from .common import WebhookCase, new_developer


@tagged("post_install", "-at_install")
class TestReplays(WebhookCase):
    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_manual_send_interval", "0"
        )

    def failed_deliveries(self, endpoint, count):
        event = self.env["coop.webhook.event"].create(
            {
                "event_type_id": self.opened_type.id,
                "company_id": self.company.id,
                "data": {"id": 1},
            }
        )
        return self.env["coop.webhook.delivery"].create(
            [
                {
                    "event_id": event.id,
                    "endpoint_id": endpoint.id,
                    "user_id": endpoint.user_id.id,
                    "company_id": self.company.id,
                    "event_type": "sale_cycle.opened",
                    "state": "failed",
                }
                for _index in range(count)
            ]
        )

    def test_a_big_redeliver_is_refused_with_its_count(self):
        endpoint = self.endpoint("https://hooks.example.org/a")
        deliveries = self.failed_deliveries(endpoint, 1001)
        with self.assertRaisesRegex(UserError, "1001 deliveries .* at most 1000"):
            deliveries.with_user(self.developer).action_redeliver()
        with self.assertRaisesRegex(UserError, "1001 deliveries .* at most 1000"):
            endpoint.with_user(self.developer).action_redeliver_failed()
        self.assertFalse(self.pending_jobs(), "nothing queued")
        self.assertEqual(set(deliveries.mapped("state")), {"failed"})
        deliveries[:1000].with_user(self.developer).action_redeliver()
        self.assertEqual(len(self.pending_jobs()), 5, "1000 in jobs of 200")

    def jobs_in_the_runners_order(self, channels):
        """The pending jobs queue_job's runner starts first with these
        channels, as it reads them from the database."""
        manager = ChannelManager()
        manager.simple_configure(channels)
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT channel, uuid, id, date_created, priority, "
            "EXTRACT(EPOCH FROM eta), state FROM queue_job WHERE state = 'pending'"
        )
        for row in self.env.cr.fetchall():
            manager.notify(self.env.cr.dbname, *row)
        return [job.uuid for job in manager.get_jobs_to_run(time.time())]

    def test_live_events_go_before_a_big_replay(self):
        endpoint = self.endpoint("https://hooks.example.org/a")
        replayed = self.failed_deliveries(endpoint, 450)
        replayed.with_user(self.developer).action_redeliver()
        replays = self.pending_jobs()
        self.assertEqual(len(replays), 3)
        self.assertEqual(set(replays.mapped("channel")), {"root.webhook.replay"})
        self.assertEqual(set(replays.mapped("priority")), {30})
        self.assertEqual(set(replayed.mapped("is_replay")), {True})
        # Another user's event, after the replay.
        other = new_developer(self.env, "coop-replay-other", self.company)
        live_endpoint = self.endpoint("https://hooks.example.org/b", user=other)
        self.create_cycle(state="open")
        [live] = self.pending_jobs() - replays
        self.assertEqual(self.deliveries(live_endpoint).job_uuid, live.uuid)
        self.assertEqual((live.channel, live.priority), ("root.webhook", 10))
        # One slot for deliveries: the live job is started first.
        self.assertEqual(
            self.jobs_in_the_runners_order("root:1,root.webhook:1"), [live.uuid]
        )
        # Two slots, one for replays: never both taken by replays.
        started = self.jobs_in_the_runners_order(
            "root:2,root.webhook:2,root.webhook.replay:1"
        )
        self.assertEqual(len(started), 2)
        self.assertIn(live.uuid, started)

    def test_the_retries_of_a_replay_stay_replays(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_retry_schedule", "0,0"
        )
        endpoint = self.endpoint("http://127.0.0.1:9/hook")  # nobody listens
        [delivery] = self.failed_deliveries(endpoint, 1)
        delivery.with_user(self.developer).action_redeliver()
        self.run_jobs(rounds=1)
        self.assertEqual(delivery.state, "retrying")
        [retry] = self.pending_jobs()
        self.assertEqual(
            (retry.uuid, retry.channel, retry.priority),
            (delivery.job_uuid, "root.webhook.replay", 30),
        )
