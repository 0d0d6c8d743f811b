# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The newsletter at each sale cycle event: claimed once in the event's
transaction, made at the Brevo and Mailchimp fakes by the real jobs, once
whatever happens (a lost answer, a closed cycle, concurrent claims)."""

import logging
import socket
import threading
import time
from datetime import timedelta
from unittest.mock import patch

from odoo import Command, fields, sql_db
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools import config

from ..models import coop_newsletter_campaign as campaign_model
from ..models import coop_newsletter_connection as connection_model
from ..models.res_users import GROUP_XMLID
from ..newsletter import brevo, mailchimp
from ..newsletter.campaign import COPY_PREFIX
from .common import SYNC_JOB, RealTransactionsMixin, pending_jobs, perform_jobs
from .fakes import common as fakes_common
from .fakes.common import Reply
from .test_newsletter_connections import NewsletterCase

CAMPAIGN = "_campaign_job"
FAST = {"total_timeout": 2, "connect_timeout": 2}


def _fast(client_class):
    """The client, whose requests give up after FAST's seconds."""

    class FastClient(client_class):
        def __init__(self, key, **options):
            super().__init__(key, **{**FAST, **options})

    return FastClient


class CampaignCase(NewsletterCase):
    def setUp(self):
        super().setUp()
        self.brevo_template = self.brevo.add_template("Weekly opening")
        self.brevo_sender = self.brevo.add_sender("La Coop", "news@example.org")
        self.mailchimp_template = self.mailchimp.add_template(
            "Weekly opening", ["coop_cycle_name"]
        )
        # Requests that do not answer in time end sooner than in production.
        self.startPatcher(
            patch.dict(
                connection_model.CLIENTS,
                {
                    "brevo": _fast(brevo.BrevoClient),
                    "mailchimp": _fast(mailchimp.MailchimpClient),
                },
            )
        )
        self.shop.partner_id.write({"tz": "Europe/Paris"})
        # The owner reads the reasons and errors in their language.
        self.developer.lang = "en_US"

    def connection(self, provider="brevo", event="sale_cycle.opened", delay=30):
        connection = self.connect(provider)
        fake_list = self.brevo_list if provider == "brevo" else self.mailchimp_list
        connection.action_set_list(str(fake_list))
        if provider == "brevo":
            connection.action_set_newsletter(
                event,
                str(self.brevo_template),
                sender_id=str(self.brevo_sender),
                delay_minutes=delay,
            )
        else:
            connection.action_set_newsletter(
                event,
                str(self.mailchimp_template),
                subject="This week at the shop",
                delay_minutes=delay,
            )
        return connection

    def cycle(self, **values):
        now = fields.Datetime.now()
        return self.env["coop.sale.cycle"].create(
            {
                "name": "Week <12> & *|EMAIL|*",
                "company_id": self.shop.id,
                "date_open": now + timedelta(hours=1),
                "date_close": now + timedelta(days=2),
                "shop_url": "https://shop.example.org/?week=12&x=1",
                "description": "<p>Fresh <b>apples</b></p><p>and pears</p>",
                **values,
            }
        )

    def run_jobs(self):
        """The list's sync first (the campaign job waits for it), then the
        newsletter's steps."""
        perform_jobs(self.env, method=SYNC_JOB)
        perform_jobs(self.env, method=CAMPAIGN)
        self.assertFalse(pending_jobs(self.env, CAMPAIGN))

    def campaigns(self, connection):
        return self.env["coop.newsletter.campaign"].search(
            [("connection_id", "=", connection.id)]
        )


@tagged("post_install", "-at_install")
class TestNewsletterCampaigns(CampaignCase):
    def test_opened_schedules_one_brevo_campaign_with_the_cycle(self):
        connection = self.connection()
        cycle = self.cycle()
        cycle.action_open()
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "pending")
        self.run_jobs()
        self.assertEqual(record.state, "scheduled")
        [(campaign_id, made)] = self.brevo.campaigns.items()
        body = made["body"]
        self.assertEqual(body["recipients"], {"listIds": [self.brevo_list]})
        self.assertEqual(body["templateId"], self.brevo_template)
        self.assertEqual(body["sender"], {"id": self.brevo_sender})
        params = body["params"]
        # Text as it is: Brevo escapes variables where they go.
        self.assertEqual(params["COOP_CYCLE_NAME"], "Week <12> & *|EMAIL|*")
        self.assertEqual(params["COOP_SHOP_NAME"], self.shop.name)
        self.assertEqual(
            params["COOP_SHOP_URL"], "https://shop.example.org/?week=12&x=1"
        )
        self.assertIn("Fresh *apples*", params["COOP_CYCLE_DESCRIPTION"])
        self.assertNotIn("<p>", params["COOP_CYCLE_DESCRIPTION"])
        # The shop's timezone (Paris: UTC+1 or +2) and language.
        local = cycle.date_open + timedelta(hours=1)
        self.assertIn(f"{local.day}", params["COOP_OPENS_AT"])
        expected = record.occurred_at + timedelta(minutes=30)
        self.assertEqual(made["scheduledAt"], expected)
        self.assertEqual(record.scheduled_at, expected)
        self.assertEqual(record.provider_campaign_id, str(campaign_id))
        self.assertEqual(record.provider_status, "queued")
        # The list was synced first, by its own job.
        self.assertTrue(self.brevo.calls("POST", "/v3/contacts/import"))
        first_import = self.brevo.requests.index(
            self.brevo.calls("POST", "/v3/contacts/import")[0]
        )
        create = self.brevo.requests.index(
            self.brevo.calls("POST", "/v3/emailCampaigns")[0]
        )
        self.assertLess(first_import, create)
        # Nothing more happens: the jobs again, the cron's reminders again.
        record._enqueue()
        self.env["coop.sale.cycle"]._send_due_reminders()
        self.run_jobs()
        self.assertEqual(len(self.brevo.calls("POST", "/v3/emailCampaigns")), 1)
        self.assertEqual(len(self.campaigns(connection)), 1)

    def test_once_its_time_came_the_provider_status_is_read_back(self):
        connection = self.connection()
        self.cycle().action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "scheduled")
        # Its time came and Brevo sent it.
        past = fields.Datetime.now() - timedelta(minutes=10)
        record.write({"scheduled_at": past})
        next(iter(self.brevo.campaigns.values()))["scheduledAt"] = past
        record._enqueue()
        self.run_jobs()
        self.assertEqual((record.state, record.provider_status), ("sent", "sent"))
        self.assertEqual(len(self.brevo.sends), 1)

    def test_moved_later_in_brevo_it_is_read_back_at_its_new_time(self):
        connection = self.connection()
        self.cycle().action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        # Its time came, but a volunteer had moved it three hours later in
        # Brevo.
        later = fields.Datetime.now().replace(microsecond=0) + timedelta(hours=3)
        next(iter(self.brevo.campaigns.values()))["scheduledAt"] = later
        record.write({"scheduled_at": fields.Datetime.now() - timedelta(minutes=10)})
        record._enqueue()
        perform_jobs(self.env, method=CAMPAIGN, due=True)
        self.assertEqual((record.state, record.scheduled_at), ("scheduled", later))
        [check] = pending_jobs(self.env, CAMPAIGN)
        self.assertEqual(check.eta, later + timedelta(minutes=5))

    def test_still_queued_after_its_time_it_is_read_again_then_told(self):
        connection = self.connection()
        self.cycle(name="Week 15").action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        # Its time came and went; Brevo never sends it.
        self.brevo.sends_scheduled = False
        past = fields.Datetime.now() - timedelta(minutes=10)
        record.write({"scheduled_at": past})
        [(campaign_id, made)] = self.brevo.campaigns.items()
        made["scheduledAt"] = past
        record._enqueue()
        self.run_jobs()
        self.assertEqual(record.state, "failed")
        self.assertEqual(
            record.last_error,
            "Brevo still shows the campaign as queued after its send time: look "
            "at it in Brevo.",
        )
        # Read after each of the retry delays, then no more.
        reads = self.brevo.calls("GET", f"/v3/emailCampaigns/{campaign_id}")
        self.assertEqual(len(reads), 2 + len(campaign_model.RETRY_DELAYS))
        self.assertTrue(
            self.env["mail.message"].search(
                [
                    ("partner_ids", "in", self.developer.partner_id.ids),
                    ("subject", "=", "Newsletter not sent: Week 15"),
                ]
            )
        )

    def test_a_newsletter_of_a_shop_left_is_not_sent(self):
        other_shop = self.env["res.company"].create({"name": "Coop Nord"})
        self.developer.company_ids = [Command.link(other_shop.id)]
        connection = self.connection()
        # Scheduled, then the connection moved to the owner's other shop
        # (over RPC): cancelled at Brevo at once.
        self.cycle(name="Week 16").action_open()
        self.run_jobs()
        connection.write({"company_id": other_shop.id})
        self.run_jobs()
        moved = self.campaigns(connection)
        self.assertEqual(moved.state, "cancelled")
        self.assertEqual(
            moved.cancel_reason,
            "The connection no longer sends the newsletters of this sale cycle's shop.",
        )
        [made] = self.brevo.campaigns.values()
        self.assertEqual(made["status"], "suspended")
        # Back on the shop, whose access its owner loses before the
        # newsletter is made.
        connection.write({"company_id": self.shop.id})
        self.cycle(name="Week 17").action_open()
        self.developer.write(
            {
                "company_ids": [Command.set(other_shop.ids)],
                "company_id": other_shop.id,
            }
        )
        self.run_jobs()
        lost = self.campaigns(connection) - moved
        self.assertEqual(
            (lost.state, lost.cancel_reason), ("cancelled", moved.cancel_reason)
        )
        self.assertEqual(len(self.brevo.calls("POST", "/v3/emailCampaigns")), 1)

    def test_an_owner_without_the_access_sends_no_newsletter(self):
        """Access removed with the keys kept on request, or the owner
        archived so: the connection stays, but sends no newsletter (as its
        webhooks get no event)."""
        connection = self.connection().sudo()
        self.developer.write(
            {
                "groups_id": [Command.unlink(self.env.ref(GROUP_XMLID).id)],
                "coop_revoke_on_access_removal": False,
            }
        )
        self.assertEqual(connection.state, "connected")
        self.cycle(name="Week 18").action_open()
        self.developer.write(
            {"groups_id": [Command.link(self.env.ref(GROUP_XMLID).id)]}
        )
        self.developer.write({"active": False, "coop_revoke_on_access_removal": False})
        self.assertEqual(connection.state, "connected")
        self.cycle(name="Week 19").action_open()
        self.assertFalse(self.campaigns(connection))

    def test_disconnecting_cancels_what_is_not_sent(self):
        """Disconnect: the newsletter scheduled in Brevo is suspended there,
        the one not made yet cancelled here, before the key is forgotten;
        their jobs end without calling Brevo."""
        connection = self.connection()
        made, later = self.cycle(name="Made"), self.cycle(name="Later")
        made.action_open()
        self.run_jobs()
        later.action_open()
        connection.action_disconnect()
        self.assertEqual(connection.state, "disconnected")
        records = self.campaigns(connection)
        self.assertEqual(
            {(c.sale_cycle_id.name, c.state, c.cancel_reason) for c in records},
            {
                ("Made", "cancelled", "The connection was disconnected."),
                ("Later", "cancelled", "The connection was disconnected."),
            },
        )
        [scheduled] = self.brevo.campaigns.values()
        self.assertEqual(scheduled["status"], "suspended")
        asked = len(self.brevo.requests)
        self.run_jobs()
        self.assertEqual(len(self.brevo.requests), asked)
        self.assertEqual(set(records.mapped("state")), {"cancelled"})

    def test_deleting_the_owner_unschedules_at_mailchimp(self):
        self.connection("mailchimp", delay=60)
        self.cycle().action_open()
        self.run_jobs()
        [made] = self.mailchimp.campaigns.values()
        self.assertEqual(made["status"], "schedule")
        self.developer.unlink()
        self.assertEqual((made["status"], made["send_time"]), ("save", None))
        self.assertEqual(self.mailchimp.sends, [])

    def test_removing_a_connected_connection_cancels_at_the_provider(self):
        """Removed over RPC while connected (the tab removes disconnected
        ones only): disconnected first, so its newsletter scheduled in Brevo
        does not go out with nobody left to cancel it."""
        connection = self.connection()
        self.cycle().action_open()
        self.run_jobs()
        [scheduled] = self.brevo.campaigns.values()
        self.assertEqual(scheduled["status"], "queued")
        connection.with_user(self.developer).unlink()
        self.assertFalse(connection.exists())
        self.assertEqual(scheduled["status"], "suspended")
        self.assertEqual(self.brevo.sends, [])

    def test_a_refused_removal_or_deletion_calls_no_provider(self):
        """Another user removing the connection, or deleting its owner, is
        refused before anything reaches the provider: a refused deletion
        rolls back the database, never what the provider did."""
        connection = self.connection()
        self.cycle().action_open()
        self.run_jobs()
        [scheduled] = self.brevo.campaigns.values()
        asked = len(self.brevo.requests)
        with self.assertRaises(AccessError):
            connection.with_user(self.other).unlink()
        with self.assertRaises(AccessError):
            self.developer.with_user(self.other).unlink()
        self.assertEqual(len(self.brevo.requests), asked)
        self.assertEqual(scheduled["status"], "queued")

    def test_a_provider_down_never_stops_the_disconnection(self):
        connection = self.connection()
        made, later = self.cycle(name="Made"), self.cycle(name="Later")
        made.action_open()
        self.run_jobs()
        later.action_open()
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}/v3"
        with patch.dict(config.options, {"coop_newsletter_brevo_url": nowhere}):
            connection.action_disconnect()
        self.assertEqual(connection.state, "disconnected")
        with self.assertRaisesRegex(UserError, "no API key any more"):
            connection.sudo()._key()
        for record in self.campaigns(connection):
            self.assertEqual(record.state, "failed")
            self.assertRegex(
                record.last_error,
                r"^The connection was disconnected, but Brevo could not be asked to "
                r"cancel this newsletter \(connection failed: .*\): if it is "
                r"scheduled in Brevo, cancel it there by hand\.$",
            )
        [scheduled] = self.brevo.campaigns.values()
        self.assertEqual(scheduled["status"], "queued")  # what to cancel by hand
        # Told by email too (a removed connection takes its rows with it).
        told = self.env["mail.message"].search(
            [
                ("partner_ids", "in", self.developer.partner_id.ids),
                ("subject", "=like", "Newsletter to cancel by hand:%"),
            ]
        )
        self.assertEqual(
            sorted(told.mapped("subject")),
            [
                "Newsletter to cancel by hand: Later",
                "Newsletter to cancel by hand: Made",
            ],
        )
        asked = len(self.brevo.requests)
        self.run_jobs()
        self.assertEqual(len(self.brevo.requests), asked)
        [shown] = [
            c
            for c in connection.coop_campaign_overview()["campaigns"]
            if c["cycle"] == "Made"
        ]
        self.assertIn("cancel it there by hand", shown["error"])
        self.assertFalse(shown["can_cancel"])

    def test_a_key_already_lost_never_stops_the_disconnection(self):
        connection = self.connection()
        self.cycle().action_open()
        self.run_jobs()
        connection.sudo()._write_key(None)  # lost some other way
        connection.action_disconnect()
        self.assertEqual(connection.state, "disconnected")
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "failed")
        self.assertIn("no API key any more", record.last_error)
        self.assertIn("cancel it there by hand", record.last_error)

    def test_a_sales_manager_without_the_access_opens_the_cycle(self):
        """Who opens a cycle needs no rights on the newsletters: the
        newsletter is claimed and queued by the system."""
        connection = self.connection()
        manager = new_test_user(
            self.env,
            login="coop-cycle-manager",
            groups="base.group_user,sales_team.group_sale_manager",
            company_id=self.shop.id,
            company_ids=[Command.set(self.shop.ids)],
        )
        self.cycle().with_user(manager).action_open()
        self.run_jobs()
        self.assertEqual(self.campaigns(connection).state, "scheduled")

    def test_unscheduled_in_mailchimp_by_hand_is_told_to_the_owner(self):
        connection = self.connection("mailchimp", delay=60)
        self.cycle(name="Week 14").action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        [made] = self.mailchimp.campaigns.values()
        made.update(status="save", send_time=None)  # unscheduled in Mailchimp
        record.write({"scheduled_at": fields.Datetime.now() - timedelta(hours=1)})
        record._enqueue()
        self.run_jobs()
        self.assertEqual(record.state, "failed")
        self.assertEqual(record.last_error, "Mailchimp shows the campaign as save.")
        self.assertTrue(
            self.env["mail.message"].search(
                [
                    ("partner_ids", "in", self.developer.partner_id.ids),
                    ("subject", "=", "Newsletter not sent: Week 14"),
                ]
            )
        )

    def test_dates_in_the_shop_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.shop.partner_id.lang = "fr_FR"
        cycle = self.cycle(date_open=fields.Datetime.to_datetime("2026-03-02 08:00:00"))
        parameters = cycle._newsletter_parameters()
        self.assertEqual(parameters["COOP_OPENS_AT"], "lundi 2 mars 2026, 09:00")

    def test_mailchimp_delay_zero_sends_at_once_with_escaped_sections(self):
        connection = self.connection("mailchimp", delay=0)
        self.cycle().action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "sent")
        [made] = self.mailchimp.campaigns.values()
        self.assertEqual(self.mailchimp.sends, [made["id"]])
        self.assertEqual(made["recipients"], {"list_id": self.mailchimp_list})
        self.assertEqual(made["settings"]["subject_line"], "This week at the shop")
        sections = made["content"]["template"]["sections"]
        self.assertEqual(made["content"]["template"]["id"], self.mailchimp_template)
        self.assertEqual(
            sections["coop_cycle_name"], "Week &lt;12&gt; &amp; *&#124;EMAIL&#124;*"
        )
        self.assertEqual(
            sections["coop_shop_url"], "https://shop.example.org/?week=12&amp;x=1"
        )
        self.assertTrue(
            record.report_url.startswith("https://us21.admin.mailchimp.com/")
        )

    def test_a_cycle_name_as_mailchimp_subject_fills_no_merge_tag(self):
        """Without a subject of its own, a Mailchimp newsletter takes the
        cycle's name, where Mailchimp would fill merge tags (*|EMAIL|*:
        each buyer's address): they are broken, the name reads the same."""
        connection = self.connection("mailchimp", delay=60)
        connection.action_set_newsletter(
            "sale_cycle.opened", str(self.mailchimp_template), delay_minutes=60
        )
        self.developer.email = "dev@example.org"
        connection._test_cycle().name = "Week <12> & *|EMAIL|*"
        connection.action_send_newsletter_test("sale_cycle.opened")
        self.cycle().action_open()
        self.run_jobs()
        subjects = [
            request["body"]["settings"]["subject_line"]
            for request in self.mailchimp.calls("POST", "/3.0/campaigns")
        ]
        self.assertEqual(len(subjects), 2)  # the test's, the newsletter's
        for subject in subjects:
            self.assertNotIn("*|", subject)
            self.assertNotIn("|*", subject)
            self.assertEqual(subject.replace("\u200b", ""), "Week <12> & *|EMAIL|*")

    def test_mailchimp_schedules_on_the_quarter_hour(self):
        connection = self.connection("mailchimp", delay=40)
        self.cycle().action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "scheduled")
        self.assertEqual(record.scheduled_at.minute % 15, 0)
        self.assertGreaterEqual(record.scheduled_at, record.send_at)
        self.assertLess(record.scheduled_at - record.send_at, timedelta(minutes=15))

    def test_closed_before_the_send_cancels_it_at_the_provider(self):
        connection = self.connection()
        cycle = self.cycle()
        cycle.action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "scheduled")
        cycle.action_close()
        self.run_jobs()
        self.assertEqual(record.state, "cancelled")
        self.assertEqual(
            record.cancel_reason, "The sale cycle closed before it was sent."
        )
        [made] = self.brevo.campaigns.values()
        self.assertEqual(made["status"], "suspended")
        self.assertEqual(self.brevo.sends, [])

    def test_closed_before_the_newsletter_is_made_creates_nothing(self):
        connection = self.connection()
        cycle = self.cycle()
        cycle.action_open()
        cycle.action_close()
        self.run_jobs()
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "cancelled")
        self.assertFalse(self.brevo.campaigns)
        self.assertFalse(self.brevo.calls("POST", "/v3/emailCampaigns"))

    def test_a_create_that_times_out_never_makes_a_second_campaign(self):
        """Brevo made the campaign, its answer came too late: the next try
        finds it by its key instead of creating another."""
        connection = self.connection()
        self.cycle().action_open()
        perform_jobs(self.env, method=SYNC_JOB)
        self.brevo.slow_create = 3  # the client gives up after 2 s
        perform_jobs(self.env, method=CAMPAIGN, rounds=1)
        [record] = self.campaigns(connection)
        self.assertEqual((record.state, record.attempt_count), ("pending", 1))
        self.assertIn("did not answer in time", record.last_error)
        self.assertEqual(len(self.brevo.campaigns), 1)
        self.brevo.slow_create = 0
        self.run_jobs()
        self.assertEqual(record.state, "scheduled")
        self.assertEqual(len(self.brevo.calls("POST", "/v3/emailCampaigns")), 1)
        self.assertEqual(
            record.provider_campaign_id, str(next(iter(self.brevo.campaigns)))
        )

    def test_a_send_whose_answer_was_lost_is_not_sent_again(self):
        connection = self.connection("mailchimp", delay=0)
        self.cycle().action_open()
        perform_jobs(self.env, method=SYNC_JOB)
        perform_jobs(self.env, method=CAMPAIGN, rounds=1)
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "created")
        # Sent at the provider, the job killed before it committed.
        made = next(iter(self.mailchimp.campaigns.values()))
        made.update(status="sent", content={"template": {}})
        self.run_jobs()
        self.assertEqual(record.state, "sent")
        self.assertFalse(self.mailchimp.calls("POST", r".*/actions/send"))

    def test_a_newsletter_made_but_not_scheduled_says_so_in_french(self):
        """Its state is no column header's twin: it read "Créée le" (created
        on), the API keys' column."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["coop_developer_settings"], ["fr_FR"], overwrite=True
        )
        connection = self.connection("mailchimp", delay=0)
        self.cycle().action_open()
        perform_jobs(self.env, method=SYNC_JOB)
        perform_jobs(self.env, method=CAMPAIGN, rounds=1)
        overview = (
            self.Connection.with_user(self.developer)
            .with_context(lang="fr_FR")
            .browse(connection.id)
            .coop_campaign_overview()
        )
        [shown] = overview["campaigns"]
        self.assertEqual(
            (shown["state"], shown["state_label"]), ("created", "Créé dans l'outil")
        )

    def test_cancel_this_send_by_its_owner_only(self):
        connection = self.connection()
        self.cycle().action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        Campaign = self.env["coop.newsletter.campaign"]
        self.assertFalse(Campaign.with_user(self.other).search([]))
        with self.assertRaises(AccessError):
            Campaign.with_user(self.other).browse(record.id).action_cancel_send()
        with self.assertRaises(AccessError):
            self.Connection.with_user(self.other).browse(
                connection.id
            ).action_set_newsletter("sale_cycle.closed", str(self.brevo_template))
        Campaign.with_user(self.developer).browse(record.id).action_cancel_send()
        self.assertEqual(record.state, "cancelled")
        self.assertIn("Cancelled by", record.cancel_reason)
        self.assertEqual(
            next(iter(self.brevo.campaigns.values()))["status"], "suspended"
        )
        with self.assertRaisesRegex(UserError, "not waiting to be sent"):
            Campaign.with_user(self.developer).browse(record.id).action_cancel_send()
        self.assertEqual(Campaign.with_user(self.admin).search([]), record)

    def test_a_cancellation_the_provider_did_not_make_is_not_shown_made(self):
        """Brevo answers the suspension 200 with an error body and keeps the
        campaign queued: the newsletter is not shown cancelled (Brevo would
        send it), by hand, at the cycle's close, or at the disconnection."""
        connection = self.connection()
        cycle = self.cycle()
        cycle.action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        [(campaign_id, made)] = self.brevo.campaigns.items()

        def not_done(reply):
            made["status"] = "queued"
            return Reply(200, {"code": "not_allowed", "message": "Not suspended"})

        self.brevo.rewrite("PUT", r"/emailCampaigns/\d+/status", not_done)
        mine = self.env["coop.newsletter.campaign"].with_user(self.developer)
        with self.assertRaises(UserError) as caught:
            mine.browse(record.id).action_cancel_send()
        self.assertEqual(
            str(caught.exception),
            "Brevo answered: the campaign is still scheduled after its cancellation",
        )
        self.assertEqual(record.state, "scheduled")
        cycle.action_close()
        perform_jobs(self.env, method=CAMPAIGN, rounds=1)
        self.assertEqual(record.state, "scheduled")
        self.assertIn("still scheduled", record.last_error)
        connection.action_disconnect()
        self.assertEqual(record.state, "failed")
        self.assertIn("cancel it there by hand", record.last_error)
        self.assertEqual(made["status"], "queued")

    def test_a_refused_campaign_fails_and_its_owner_hears_of_it(self):
        connection = self.connection()
        del self.brevo.templates[self.brevo_template]  # deleted in Brevo meanwhile
        self.cycle(name="Week 13").action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "failed")
        self.assertIn("Template ID does not exist", record.last_error)
        [warning] = self.env["mail.message"].search(
            [("partner_ids", "in", self.developer.partner_id.ids)]
        )
        self.assertEqual(warning.subject, "Newsletter not sent: Week 13")
        self.assertIn("Template ID does not exist", warning.body)
        overview = (
            self.Connection.with_user(self.developer)
            .browse(connection.id)
            .coop_campaign_overview()
        )
        [shown] = overview["campaigns"]
        self.assertEqual((shown["state"], shown["can_cancel"]), ("failed", False))
        self.assertIn("Template ID does not exist", shown["error"])
        opened = [
            e for e in overview["events"] if e["event_type"] == "sale_cycle.opened"
        ]
        self.assertTrue(opened[0]["active"])
        with self.assertRaises(AccessError):
            self.Connection.with_user(self.other).browse(
                connection.id
            ).coop_campaign_overview()

    def test_settings_are_checked_against_the_provider(self):
        connection = self.connect()
        connection.action_set_list(str(self.brevo_list))
        with self.assertRaisesRegex(ValidationError, "not one of the account's"):
            connection.action_set_newsletter(
                "sale_cycle.opened", "999", sender_id=str(self.brevo_sender)
            )
        with self.assertRaisesRegex(ValidationError, "Choose the sender"):
            connection.action_set_newsletter(
                "sale_cycle.opened", str(self.brevo_template), sender_id="999"
            )
        with self.assertRaisesRegex(ValidationError, "number of minutes"):
            connection.action_set_newsletter(
                "sale_cycle.opened",
                str(self.brevo_template),
                sender_id=str(self.brevo_sender),
                delay_minutes=-1,
            )
        with self.assertRaisesRegex(ValidationError, "sale cycle events"):
            connection.action_set_newsletter("{{ 7*7 }}", str(self.brevo_template))
        self.assertFalse(connection.campaign_rule_ids)
        self.assertEqual(
            connection.coop_templates(),
            [{"id": str(self.brevo_template), "name": "Weekly opening", "copy": False}],
        )

    def test_a_reminder_never_waits_past_what_it_announces(self):
        """A delay as long as the hours before the opening or closing would
        send the reminder after it: every one would end cancelled."""
        connection = self.connect()
        connection.action_set_list(str(self.brevo_list))
        late = (
            "With this delay the newsletter would leave after the opening or "
            "closing it announces: make the delay shorter than the hours before."
        )
        for event, delay, hours in (
            ("sale_cycle.closing_soon", 120, 2),
            ("sale_cycle.opening_soon", 7 * 24 * 60, 24),
        ):
            with self.assertRaises(ValidationError) as caught:
                connection.action_set_newsletter(
                    event,
                    str(self.brevo_template),
                    sender_id=str(self.brevo_sender),
                    delay_minutes=delay,
                    lead_time_hours=hours,
                )
            self.assertEqual(str(caught.exception), late)
        self.assertFalse(connection.campaign_rule_ids)
        connection.action_set_newsletter(
            "sale_cycle.closing_soon",
            str(self.brevo_template),
            sender_id=str(self.brevo_sender),
            delay_minutes=119,
            lead_time_hours=2,
        )
        # Not a reminder: any delay up to 7 days.
        connection.action_set_newsletter(
            "sale_cycle.opened",
            str(self.brevo_template),
            sender_id=str(self.brevo_sender),
            delay_minutes=7 * 24 * 60,
        )
        self.assertEqual(len(connection.campaign_rule_ids), 2)

    def test_an_event_of_the_wrong_kind_is_refused_plainly(self):
        """A list or an object where the event's name goes (JSON-2, XML-RPC):
        the same message as an unknown event, never a traceback."""
        connection = self.connect()
        connection.action_set_list(str(self.brevo_list))
        for hostile in (["sale_cycle.opened"], {"sale_cycle.opened": 1}):
            with self.assertRaisesRegex(ValidationError, "sale cycle events"):
                connection.action_set_newsletter(
                    hostile,
                    str(self.brevo_template),
                    sender_id=str(self.brevo_sender),
                )
            with self.assertRaisesRegex(ValidationError, "sale cycle events"):
                connection.action_stop_newsletter(hostile)
            with self.assertRaisesRegex(ValidationError, "sale cycle events"):
                connection.action_send_newsletter_test(hostile)
        self.assertFalse(connection.campaign_rule_ids)

    def test_two_connections_never_send_a_list_the_same_event_twice(self):
        theirs = self.connection()
        self.other.lang = "en_US"
        # A second volunteer connects the same account and list of the shop.
        mine = self.connect(user=self.other)
        mine.action_set_list(str(self.brevo_list))
        # They cannot see the first one's connection: it is not named.
        twice = (
            "Another connection of the shop to this list of the account already "
            "sends a newsletter at “The sale cycle opened”: each buyer would get "
            "two. Choose another event, or ask an administrator to stop one of "
            "them."
        )
        with self.assertRaises(ValidationError) as caught:
            mine.action_set_newsletter(
                "sale_cycle.opened",
                str(self.brevo_template),
                sender_id=str(self.brevo_sender),
            )
        self.assertEqual(str(caught.exception), twice)
        # Its owner's second connection: named, as they see it.
        second = self.connect()
        second.action_set_list(str(self.brevo_list))
        with self.assertRaises(ValidationError) as caught:
            second.action_set_newsletter(
                "sale_cycle.opened",
                str(self.brevo_template),
                sender_id=str(self.brevo_sender),
            )
        self.assertEqual(
            str(caught.exception),
            f"The connection of {self.developer.name} ({theirs.account_name}) "
            "already sends a newsletter to this list at “The sale cycle opened”: "
            "each buyer would get two. Stop one of them first.",
        )
        second.action_disconnect()
        # Another event is theirs to send; choosing the list again later
        # is refused the same way once both send at that event.
        mine.action_set_newsletter(
            "sale_cycle.closed",
            str(self.brevo_template),
            sender_id=str(self.brevo_sender),
        )
        other_list = self.brevo.add_list("Volunteers")
        mine.action_set_list(str(other_list))
        mine.action_set_newsletter(
            "sale_cycle.opened",
            str(self.brevo_template),
            sender_id=str(self.brevo_sender),
        )
        with self.assertRaises(ValidationError) as caught:
            mine.action_set_list(str(self.brevo_list))
        self.assertEqual(str(caught.exception), twice)
        self.assertEqual(mine.list_id, str(other_list))
        # Stopped on their side, it is the second volunteer's to send.
        theirs.action_stop_newsletter("sale_cycle.opened")
        mine.action_set_list(str(self.brevo_list))
        self.cycle().action_open()
        self.run_jobs()
        self.assertEqual(len(self.brevo.calls("POST", "/v3/emailCampaigns")), 1)

    def set_opened_newsletter(self, connection):
        connection.action_set_list(str(self.brevo_list))
        connection.action_set_newsletter(
            "sale_cycle.opened",
            str(self.brevo_template),
            sender_id=str(self.brevo_sender),
        )

    def another_brevo_account(self, name="La Coop du Coin"):
        """The fake answers for another Brevo account from now on: its own
        key and organization, its lists numbered as the first's."""
        self.brevo.key = "xkeysib-another0123456789"
        self.brevo.organization_id = "64f0c1a2b3c4d5e6f7a8b9ff"
        self.brevo.account_name = name

    def test_two_accounts_of_one_name_may_send_their_lists_the_same_event(self):
        """Two Brevo accounts of the same company name, each with its list
        1: not the same list, each sends its newsletter."""
        theirs = self.connection()
        self.another_brevo_account()
        mine = self.connect()
        self.set_opened_newsletter(mine)
        self.assertEqual(
            (mine.account_name, mine.list_id), (theirs.account_name, theirs.list_id)
        )
        self.assertNotEqual(mine.account_id, theirs.account_id)
        self.assertEqual(
            (mine | theirs).campaign_rule_ids.mapped("event_type"),
            ["sale_cycle.opened"] * 2,
        )

    def test_one_account_connected_twice_is_known_even_renamed(self):
        theirs = self.connection()
        # Renamed in Brevo between the two connections: the same account.
        self.brevo.account_name = "La Coop du Coin des Halles"
        second = self.connect()
        self.assertEqual(second.account_id, theirs.account_id)
        with self.assertRaises(ValidationError) as caught:
            self.set_opened_newsletter(second)
        self.assertEqual(
            str(caught.exception),
            f"The connection of {self.developer.name} (La Coop du Coin) already "
            "sends a newsletter to this list at “The sale cycle opened”: each "
            "buyer would get two. Stop one of them first.",
        )
        self.assertFalse(second.campaign_rule_ids)

    def test_connections_made_before_the_account_id_are_matched_by_name(self):
        """A connection made before the account's identity was recorded is
        taken for the same account as any of its name, either way round:
        refused rather than sent twice."""

        def made_before(connection):
            self.env.flush_all()
            self.env.cr.execute(
                "UPDATE coop_newsletter_connection SET account_id = NULL WHERE id = %s",
                [connection.id],
            )
            connection.invalidate_recordset(["account_id"])

        theirs = self.connection()
        made_before(theirs)
        self.another_brevo_account()
        mine = self.connect()
        with self.assertRaisesRegex(ValidationError, "each buyer would get two"):
            self.set_opened_newsletter(mine)
        made_before(mine)
        with self.assertRaisesRegex(ValidationError, "each buyer would get two"):
            self.set_opened_newsletter(mine)
        self.assertFalse(mine.campaign_rule_ids)
        # Of another name: another account.
        self.brevo.account_name = "La Ruche des Halles"
        self.set_opened_newsletter(self.connect())

    def test_a_stopped_newsletter_is_not_sent(self):
        connection = self.connection()
        connection.action_stop_newsletter("sale_cycle.opened")
        self.cycle().action_open()
        self.assertFalse(self.campaigns(connection))

    def test_closing_soon_once_per_date_a_moved_date_re_arms(self):
        connection = self.connection(event="sale_cycle.closing_soon")
        now = fields.Datetime.now()
        cycle = self.cycle(
            date_open=now - timedelta(hours=1), date_close=now + timedelta(hours=5)
        )
        cycle.action_open()  # its reminders are claimed at once
        Cycle = self.env["coop.sale.cycle"]
        Cycle._send_due_reminders()
        self.assertEqual(len(self.campaigns(connection)), 1)
        self.run_jobs()
        first = self.campaigns(connection)
        self.assertEqual(first.state, "scheduled")
        cycle.date_close = now + timedelta(hours=8)
        Cycle._send_due_reminders()
        self.assertEqual(len(self.campaigns(connection)), 2)
        self.run_jobs()
        # The former date's is cancelled at Brevo; the new date's scheduled.
        self.assertEqual(first.state, "cancelled")
        self.assertEqual(
            first.cancel_reason, "The sale cycle's date moved before it was sent."
        )
        second = self.campaigns(connection) - first
        self.assertEqual(second.state, "scheduled")
        self.assertEqual(second.occurrence, fields.Datetime.to_string(cycle.date_close))
        statuses = [made["status"] for made in self.brevo.campaigns.values()]
        self.assertEqual(statuses, ["suspended", "queued"])

    def test_a_date_moved_and_moved_back_sends_its_newsletter_again(self):
        connection = self.connection(event="sale_cycle.closing_soon")
        now = fields.Datetime.now()
        cycle = self.cycle(
            date_open=now - timedelta(hours=1), date_close=now + timedelta(hours=5)
        )
        cycle.action_open()
        Cycle = self.env["coop.sale.cycle"]
        Cycle._send_due_reminders()
        self.run_jobs()
        first = self.campaigns(connection)
        # A slip of the volunteer's, then the date put back as it was.
        cycle.date_close = now + timedelta(hours=8)
        Cycle._send_due_reminders()
        self.run_jobs()
        self.assertEqual(first.state, "cancelled")
        cycle.date_close = now + timedelta(hours=5)
        Cycle._send_due_reminders()
        self.run_jobs()
        # The date's newsletter again (the cancelled one left as it was),
        # the other date's cancelled: one newsletter queued at Brevo.
        current = self.campaigns(connection).filtered(lambda c: c.state == "scheduled")
        self.assertEqual(len(current), 1)
        self.assertNotEqual(current, first)
        self.assertEqual(
            current.occurrence, fields.Datetime.to_string(cycle.date_close)
        )
        self.assertEqual(
            self.campaigns(connection).mapped("state"),
            ["scheduled", "cancelled", "cancelled"],
        )
        statuses = [made["status"] for made in self.brevo.campaigns.values()]
        self.assertEqual(statuses, ["suspended", "suspended", "queued"])
        # Cancelled by hand, a date's newsletter stays cancelled.
        current.action_cancel_send()
        Cycle._send_due_reminders()
        self.run_jobs()
        self.assertEqual(len(self.campaigns(connection)), 3)

    def test_a_cycle_cancelled_then_opened_again_sends_its_newsletter(self):
        connection = self.connection()
        cycle = self.cycle()
        cycle.action_open()
        self.run_jobs()
        first = self.campaigns(connection)
        # Cancelled by mistake before the newsletter left, then set right.
        cycle.action_cancel()
        self.run_jobs()
        self.assertEqual(
            first.cancel_reason, "The sale cycle was cancelled before it was sent."
        )
        cycle.action_reset_to_draft()
        cycle.action_open()
        self.run_jobs()
        again = self.campaigns(connection) - first
        self.assertEqual(again.state, "scheduled")
        statuses = [made["status"] for made in self.brevo.campaigns.values()]
        self.assertEqual(statuses, ["suspended", "queued"])

    def copy_connection(self, delay=60):
        """A Mailchimp connection whose opened newsletter is a copy of last
        week's campaign (chosen among those listed)."""
        connection = self.connect("mailchimp")
        connection.action_set_list(str(self.mailchimp_list))
        source = self.mailchimp.add_campaign(
            self.mailchimp_list,
            "Last week",
            "<h1>*|COOP_CYCLE_NAME|*</h1><p>Hi *|FNAME|*</p>"
            '<a href="*|COOP_SHOP_URL|*">Order</a>',
        )
        choices = connection.coop_templates()
        self.assertIn(
            {"id": COPY_PREFIX + source, "name": "Last week", "copy": True}, choices
        )
        connection.action_set_newsletter(
            "sale_cycle.opened", COPY_PREFIX + source, delay_minutes=delay
        )
        return connection, source

    def test_a_campaign_to_copy_is_copied_once_with_the_parameters(self):
        connection, source = self.copy_connection()
        overview = connection.coop_campaign_overview()
        [opened] = [e for e in overview["events"] if e["active"]]
        self.assertEqual(opened["template_name"], "Copy of “Last week”")
        self.cycle().action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "scheduled")
        [copy_id] = set(self.mailchimp.campaigns) - {source}
        copy = self.mailchimp.campaigns[copy_id]
        self.assertEqual(record.provider_campaign_id, copy_id)
        self.assertEqual(copy["status"], "schedule")
        self.assertTrue(copy["settings"]["title"].endswith(f"[{record._key()}]"))
        subject = copy["settings"]["subject_line"]  # merge tags broken
        self.assertEqual(subject.replace("\u200b", ""), "Week <12> & *|EMAIL|*")
        self.assertNotIn("*|", subject)
        self.assertEqual(copy["recipients"], {"list_id": self.mailchimp_list})
        self.assertIn(
            "<h1>Week &lt;12&gt; &amp; *&#124;EMAIL&#124;*</h1>", copy["html"]
        )
        self.assertIn('href="https://shop.example.org/?week=12&amp;x=1"', copy["html"])
        self.assertIn("Hi *|FNAME|*", copy["html"])
        source_page = self.mailchimp.campaigns[source]["html"]
        self.assertIn("*|COOP_CYCLE_NAME|*", source_page)
        # Nothing more happens when the jobs run again.
        record._enqueue()
        self.run_jobs()
        self.assertEqual(len(self.mailchimp.calls("POST", r".*/actions/replicate")), 1)
        self.assertEqual(len(self.mailchimp.campaigns), 2)

    def test_a_copy_whose_answer_was_lost_is_not_made_twice(self):
        """Mailchimp made the copy, its answer came too late (the copy has
        no key yet): the next try takes that copy instead of another."""
        connection, source = self.copy_connection()
        self.cycle().action_open()
        perform_jobs(self.env, method=SYNC_JOB)
        self.mailchimp.slow_replicate = 3  # the client gives up after 2 s
        perform_jobs(self.env, method=CAMPAIGN, rounds=2)
        [record] = self.campaigns(connection)
        self.assertEqual((record.state, record.attempt_count), ("pending", 1))
        self.assertIn("did not answer in time", record.last_error)
        self.assertEqual(len(self.mailchimp.campaigns), 2)  # the copy was made
        self.mailchimp.slow_replicate = 0
        self.run_jobs()
        self.assertEqual(record.state, "scheduled")
        self.assertEqual(len(self.mailchimp.calls("POST", r".*/actions/replicate")), 1)
        [copy_id] = set(self.mailchimp.campaigns) - {source}
        self.assertEqual(record.provider_campaign_id, copy_id)
        self.assertIn("Week &lt;12&gt;", self.mailchimp.campaigns[copy_id]["html"])

    def test_a_first_try_never_takes_a_copy_made_by_hand(self):
        """A volunteer copied the same campaign in Mailchimp a moment ago:
        the newsletter makes its own copy, theirs is left as it is."""
        connection, source = self.copy_connection()
        self.cycle().action_open()
        perform_jobs(self.env, method=SYNC_JOB)
        by_hand = self.mailchimp.add_campaign(
            self.mailchimp_list, "Last week (copy 01)", "<p>Mine</p>", status="save"
        )
        self.run_jobs()
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "scheduled")
        self.assertNotIn(record.provider_campaign_id, (source, by_hand))
        mine = self.mailchimp.campaigns[by_hand]
        self.assertEqual(
            (mine["settings"]["title"], mine["status"], mine["html"]),
            ("Last week (copy 01)", "save", "<p>Mine</p>"),
        )

    def test_send_a_test_of_a_copy_to_me(self):
        connection, source = self.copy_connection()
        self.developer.email = "dev@example.org"
        connection.action_send_newsletter_test("sale_cycle.opened")
        [(tested, address, _day)] = self.mailchimp.tests_sent
        self.assertEqual(address, "dev@example.org")
        self.assertNotEqual(tested, source)
        self.assertEqual(list(self.mailchimp.campaigns), [source])  # copy removed
        self.assertIn("*|COOP_CYCLE_NAME|*", self.mailchimp.campaigns[source]["html"])

    def test_a_campaign_to_copy_must_be_one_listed(self):
        connection, source = self.copy_connection()
        other = self.mailchimp.add_list("Other audience")
        elsewhere = self.mailchimp.add_campaign(other, "Elsewhere", "<p></p>")
        for junk in (COPY_PREFIX + elsewhere, COPY_PREFIX + "../lists", "campaign:"):
            with self.assertRaisesRegex(ValidationError, "campaigns to copy"):
                connection.action_set_newsletter("sale_cycle.closed", junk)

    def test_send_a_test_to_me(self):
        connection = self.connection("mailchimp")
        self.developer.email = "dev@example.org"
        address = (
            self.Connection.with_user(self.developer)
            .browse(connection.id)
            .action_send_newsletter_test("sale_cycle.opened")
        )
        self.assertEqual(address, "dev@example.org")
        self.assertEqual([t[1] for t in self.mailchimp.tests_sent], [address])
        self.assertFalse(self.mailchimp.campaigns)  # the test's campaign removed

    def test_a_test_at_most_once_a_minute(self):
        """*Send a test to me* in a loop sends one test a minute, not one a
        click: the provider's test quota and hourly requests are the
        newsletters'. A test that failed does not count."""
        connection = self.connection("mailchimp")
        self.developer.email = "dev@example.org"
        Connection = self.Connection.with_user(self.developer)
        self.mailchimp.hostile = "html"
        # Rolled back with the call that failed, as an RPC call is.
        with (
            self.assertRaisesRegex(UserError, "HTTP 502"),
            self.env.cr.savepoint(),
        ):
            Connection.browse(connection.id).action_send_newsletter_test(
                "sale_cycle.opened"
            )
        self.mailchimp.hostile = None
        Connection.browse(connection.id).action_send_newsletter_test(
            "sale_cycle.opened"
        )
        for _click in range(3):
            with self.assertRaisesRegex(UserError, "less than a minute ago"):
                Connection.browse(connection.id).action_send_newsletter_test(
                    "sale_cycle.opened"
                )
        self.assertEqual(len(self.mailchimp.tests_sent), 1)
        rule = connection._campaign_rule("sale_cycle.opened")
        rule.test_sent_at -= timedelta(minutes=1)
        Connection.browse(connection.id).action_send_newsletter_test(
            "sale_cycle.opened"
        )
        self.assertEqual(len(self.mailchimp.tests_sent), 2)
        with self.assertRaises(AccessError):
            rule.with_user(self.developer).write({"test_sent_at": False})

        connection = self.connection()
        self.developer.email = "dev@example.org"
        with self.assertRaisesRegex(UserError, "not in your test list"):
            connection.action_send_newsletter_test("sale_cycle.opened")
        self.assertFalse(self.brevo.campaigns)

    def test_ids_that_are_no_provider_ids_never_reach_a_path(self):
        """A provider (broken, or not the provider) answers with ids that
        hold path characters: a readable error, the newsletter tried again
        and found by its key, no traceback, no such id recorded."""
        hostile = "../lists/x?y#z"

        def hostile_id(reply):
            return Reply(reply.status, {**reply.body, "id": hostile})

        connection = self.connection("mailchimp", delay=60)
        self.mailchimp.rewrite("POST", "/campaigns", hostile_id)
        self.developer.email = "dev@example.org"
        with self.assertRaisesRegex(UserError, "cannot be read"):
            connection.action_send_newsletter_test("sale_cycle.opened")
        self.mailchimp.campaigns.clear()  # the test's, made before the answer
        self.cycle().action_open()
        perform_jobs(self.env, method=SYNC_JOB)
        perform_jobs(self.env, method=CAMPAIGN, rounds=1)
        [record] = self.campaigns(connection)
        self.assertEqual((record.state, record.attempt_count), ("pending", 1))
        self.assertIn("cannot be read", record.last_error)
        self.run_jobs()
        self.assertEqual(record.state, "scheduled")
        [campaign_id] = self.mailchimp.campaigns
        self.assertEqual(record.provider_campaign_id, campaign_id)
        # Templates: Mailchimp's are numbers.
        self.mailchimp.rewrite(
            "GET",
            "/templates",
            lambda reply: Reply(
                200, {**reply.body, "templates": [{"id": hostile, "name": "X"}]}
            ),
        )
        with self.assertRaisesRegex(UserError, "cannot be read"):
            connection.coop_templates()

    def test_hostile_answers_are_readable_errors_never_a_second_campaign(self):
        """Every hostile answer of the fakes on the tab's calls and the
        newsletter's job: a readable error, the newsletter tried again."""
        connection = self.connection()
        self.developer.email = "dev@example.org"
        self.brevo.test_list.add("dev@example.org")
        self.cycle().action_open()
        perform_jobs(self.env, method=SYNC_JOB)
        [record] = self.campaigns(connection)
        for attempt, mode in enumerate(fakes_common.HOSTILE_MODES, start=1):
            self.brevo.hostile = mode
            with self.subTest(mode=mode):
                with self.assertRaises(UserError):
                    connection.coop_templates()
                with self.assertRaises(UserError):
                    connection.action_send_newsletter_test("sale_cycle.opened")
                perform_jobs(self.env, method=CAMPAIGN, rounds=1)
                self.assertEqual(
                    (record.state, record.attempt_count), ("pending", attempt)
                )
                self.assertTrue(record.last_error)
        self.brevo.hostile = None
        self.run_jobs()
        self.assertEqual(record.state, "scheduled")
        self.assertEqual(len(self.brevo.campaigns), 1)

    def test_a_provider_that_did_it_and_answered_badly_did_it_once(self):
        """Mailchimp creates the campaign and answers without its id, then
        schedules it and answers 500: found by its key, read back as
        scheduled, never created or scheduled twice."""
        connection = self.connection("mailchimp", delay=60)
        self.mailchimp.rewrite("POST", "/campaigns", lambda reply: Reply(200, {}))
        self.mailchimp.rewrite(
            "POST",
            r"/campaigns/\w+/actions/schedule",
            lambda reply: Reply(500, self.mailchimp.error(500, "Internal error")),
        )
        self.cycle().action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "scheduled")
        self.assertEqual(len(self.mailchimp.calls("POST", "/3.0/campaigns")), 1)
        self.assertEqual(
            len(self.mailchimp.calls("POST", r"/3.0/campaigns/\w+/actions/schedule")),
            1,
        )

    def create_answered_with_another_campaign(self, status):
        """A Mailchimp connection whose next creation is made but answered
        with the id of another audience's campaign, in that status: (the
        connection, that campaign's id)."""
        connection = self.connection("mailchimp", delay=60)
        volunteers = self.mailchimp.add_list("Volunteers")
        theirs = self.mailchimp.add_campaign(
            volunteers, "Volunteers' news", "<p>Meeting</p>", status=status
        )
        lies = iter([True])

        def another(reply):
            if reply.status == 200 and next(lies, False):
                return Reply(200, {**reply.body, "id": theirs})
            return reply

        self.mailchimp.rewrite("POST", "/campaigns", another)
        return connection, theirs

    def test_a_create_answered_with_another_campaign_never_touches_it(self):
        """Mailchimp makes the newsletter but answers with the id of another
        audience's draft: that one is neither filled, scheduled nor sent;
        the newsletter's own is found by its key and scheduled."""
        connection, theirs = self.create_answered_with_another_campaign("save")
        self.cycle().action_open()
        self.run_jobs()
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "scheduled")
        self.assertNotEqual(record.provider_campaign_id, theirs)
        self.assertEqual(self.mailchimp.campaigns[theirs]["status"], "save")
        self.assertEqual(
            self.mailchimp.campaigns[theirs]["content"], {"html": "<p>Meeting</p>"}
        )
        self.assertFalse(self.mailchimp.calls(path=rf"/3.0/campaigns/{theirs}/.*"))
        self.assertEqual(len(self.mailchimp.calls("POST", "/3.0/campaigns")), 1)

    def test_a_create_answered_with_another_campaign_never_cancels_it(self):
        """The id of another audience's scheduled campaign, then the cycle
        closed before the next step read it: that campaign is not
        unscheduled; the newsletter's own (a draft) is found by its key."""
        connection, theirs = self.create_answered_with_another_campaign("schedule")
        cycle = self.cycle()
        cycle.action_open()
        perform_jobs(self.env, method=SYNC_JOB)
        perform_jobs(self.env, method=CAMPAIGN, rounds=1)
        [record] = self.campaigns(connection)
        self.assertEqual(
            (record.state, record.provider_campaign_id), ("created", theirs)
        )
        cycle.action_close()
        self.run_jobs()
        self.assertEqual(self.mailchimp.campaigns[theirs]["status"], "schedule")
        self.assertEqual(record.state, "cancelled")
        self.assertNotEqual(record.provider_campaign_id, theirs)
        self.assertFalse(self.mailchimp.calls(path=rf"/3.0/campaigns/{theirs}/.*"))

    def test_a_create_answered_by_a_redirect_is_looked_up_not_failed(self):
        """Brevo made (and scheduled) the campaign, the answer is a redirect:
        no refusal (that is a 4xx), an outcome not known. The newsletter is
        not given up while Brevo would send it: the next try finds it."""
        connection = self.connection()
        self.brevo.rewrite(
            "POST",
            "/emailCampaigns",
            lambda reply: Reply(302, None, {"Location": "https://example.org/"}),
        )
        self.cycle().action_open()
        perform_jobs(self.env, method=SYNC_JOB)
        perform_jobs(self.env, method=CAMPAIGN, rounds=1)
        [record] = self.campaigns(connection)
        self.assertEqual((record.state, record.attempt_count), ("pending", 1))
        self.assertIn("HTTP 302", record.last_error)
        self.run_jobs()
        self.assertEqual(record.state, "scheduled")
        self.assertEqual(len(self.brevo.calls("POST", "/v3/emailCampaigns")), 1)

    def test_a_brevo_campaign_found_with_an_id_that_is_no_id_is_an_error(self):
        connection = self.connection()
        self.cycle().action_open()
        perform_jobs(self.env, method=SYNC_JOB)
        self.brevo.slow_create = 3  # the client gives up after 2 s
        perform_jobs(self.env, method=CAMPAIGN, rounds=1)
        self.brevo.slow_create = 0
        self.brevo.rewrite(
            "GET",
            "/emailCampaigns",
            lambda reply: Reply(
                200,
                {
                    **reply.body,
                    "campaigns": [
                        {**item, "id": "1/../2"} for item in reply.body["campaigns"]
                    ],
                },
            ),
        )
        perform_jobs(self.env, method=CAMPAIGN, rounds=1)
        [record] = self.campaigns(connection)
        self.assertEqual((record.state, record.attempt_count), ("pending", 2))
        self.assertFalse(record.provider_campaign_id)
        self.assertIn("cannot be read", record.last_error)
        # Cancelled by hand meanwhile: the same readable error.
        with self.assertRaisesRegex(UserError, "cannot be read"):
            record.with_user(self.developer).action_cancel_send()


# Mounts the tab's component of one connection in the web client, as its
# owner, then runs the steps (whatever the session's language: the
# provider's words and the names are looked for).
SCREEN_JS = """
(async () => {
    const { mountComponent } = odoo.loader.modules.get("@web/env");
    const { CoopNewsletterCampaigns } = odoo.loader.modules.get(
        "@coop_developer_settings/developer_tab/newsletter_campaigns"
    );
    const target = document.createElement("div");
    document.body.appendChild(target);
    await mountComponent(CoopNewsletterCampaigns, target, {
        env: odoo.loader.modules.get("@odoo/owl").Component.env,
        props: { connectionId: %(connection)s },
    });
    const find = async (selector, text) => {
        for (let i = 0; i < 100; i++) {
            const found = [...target.querySelectorAll(selector)].find(
                (el) => !text || el.textContent.includes(text)
            );
            if (found) {
                return found;
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const shown = target.textContent;
        throw new Error(`not shown: ${selector} ${text || ""} in ${shown}`);
    };
    %(steps)s
    console.log("test successful");
})().catch((error) => console.error(error.message));
"""
# Cancels the scheduled newsletter.
CANCEL_STEPS = """
    await find(".o_coop_campaign_rule", "Weekly opening");
    await find(".o_coop_campaign_row", "(queued)");
    (await find(".o_coop_campaign_cancel")).click();
    await find(".o_coop_campaign_row", "(suspended)");
    if (target.querySelector(".o_coop_campaign_cancel")) {
        throw new Error("a cancelled send offers Cancel again");
    }
    (await find(".o_coop_campaign_edit")).click();
    await find(".o_coop_campaign_template option", "Weekly opening");
"""
# The picker of a Mailchimp connection: its templates, then the list's
# campaigns to copy, in a group of their own; choosing one saves the rule.
PICKER_STEPS = """
    (await find(".o_coop_campaign_edit")).click();
    await find("optgroup:not(.o_coop_campaign_copies) option", "Weekly opening");
    const copy = await find(".o_coop_campaign_copies option", "Last week");
    const select = await find(".o_coop_campaign_template");
    select.value = copy.value;
    select.dispatchEvent(new Event("change"));
    (await find(".o_coop_campaign_save")).click();
    await find(".o_coop_campaign_rule", "Last week");
"""


@tagged("post_install", "-at_install")
class TestNewsletterCampaignsScreen(CampaignCase, HttpCase):
    def test_the_owner_sees_and_cancels_a_newsletter_in_the_tab(self):
        connection = self.connection()
        self.cycle().action_open()
        self.run_jobs()
        self.browser_js(
            "/odoo",
            SCREEN_JS % {"connection": connection.id, "steps": CANCEL_STEPS},
            "odoo.isReady",
            login=self.developer.login,
        )
        [record] = self.campaigns(connection)
        self.assertEqual(record.state, "cancelled")
        self.assertEqual(
            next(iter(self.brevo.campaigns.values()))["status"], "suspended"
        )

    def test_a_campaign_to_copy_is_chosen_in_the_picker(self):
        connection = self.connect("mailchimp")
        connection.action_set_list(str(self.mailchimp_list))
        source = self.mailchimp.add_campaign(
            self.mailchimp_list, "Last week", "<p>*|COOP_CYCLE_NAME|*</p>"
        )
        self.browser_js(
            "/odoo",
            SCREEN_JS % {"connection": connection.id, "steps": PICKER_STEPS},
            "odoo.isReady",
            login=self.developer.login,
        )
        rule = connection._campaign_rule("sale_cycle.opening_soon")
        self.assertEqual(rule.template_id, COPY_PREFIX + source)


@tagged("post_install", "-at_install")
class TestNewsletterCampaignClaims(RealTransactionsMixin, TransactionCase):
    """Claims in real concurrent transactions: one newsletter."""

    def setUp(self):
        super().setUp()
        self.db = sql_db.db_connect(self.env.cr.dbname)
        now = fields.Datetime.now()
        with self.db.cursor() as cr:
            env = self.env_of(cr)
            company = env.ref("base.main_company")
            cr.execute("SELECT coalesce(max(id), 0) FROM queue_job")
            self.last_job_id = cr.fetchone()[0]
            cr.execute(
                "INSERT INTO coop_newsletter_connection "
                "(user_id, company_id, provider, state, list_id, account_name) "
                "VALUES (%s, %s, 'brevo', 'connected', '1', 'Claims') RETURNING id",
                [env.ref("base.user_admin").id, company.id],
            )
            self.connection_id = cr.fetchone()[0]
            env["coop.newsletter.campaign.rule"].create(
                {
                    "connection_id": self.connection_id,
                    "event_type": "sale_cycle.closing_soon",
                    "template_id": "1",
                    "sender_id": "1",
                }
            )
            cycle = env["coop.sale.cycle"].create(
                {
                    "name": "Claimed once",
                    "company_id": company.id,
                    "date_open": now - timedelta(hours=1),
                    "date_close": now + timedelta(hours=3),
                }
            )
            cycle.write({"state": "open"})
            self.cycle_id = cycle.id
        self.addCleanup(self.remove)

    def remove(self):
        with self.db.cursor() as cr:
            cr.execute("DELETE FROM queue_job WHERE id > %s", [self.last_job_id])
            cr.execute(
                "DELETE FROM coop_newsletter_connection WHERE id = %s",
                [self.connection_id],
            )
            cr.execute("DELETE FROM coop_sale_cycle WHERE id = %s", [self.cycle_id])

    def test_two_crons_and_a_user_claim_one_newsletter(self):
        def cron(cycle):
            cycle.env["coop.sale.cycle"]._send_due_reminders()

        def user(cycle):
            cycle.env["coop.sale.cycle"]._send_due_reminders(cycle)

        outcomes = self.race("coop.sale.cycle", self.cycle_id, cron, cron, user)
        self.assertEqual(outcomes, ["done"] * 3)
        with self.db.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM coop_newsletter_campaign "
                "WHERE connection_id = %s",
                [self.connection_id],
            )
            self.assertEqual(cr.fetchone()[0], 1)
            cr.execute(
                "SELECT count(*) FROM queue_job WHERE method_name = %s AND id > %s",
                [CAMPAIGN, self.last_job_id],
            )
            self.assertEqual(cr.fetchone()[0], 1)

    def test_a_claim_lost_to_another_leaves_the_logs_alone(self):
        """A claim waiting on another transaction's, then lost, logs no
        ERROR and mutes no logger: a muted logger is muted for every thread
        of the process (their real SQL errors swallowed meanwhile), and two
        claims muting it at once left it muted, or not, at random."""
        sql_logger = logging.getLogger("odoo.sql_db")
        errors = []
        catcher = logging.Handler(logging.ERROR)
        catcher.emit = errors.append
        sql_logger.addHandler(catcher)
        self.addCleanup(sql_logger.removeHandler, catcher)
        before = (list(sql_logger.handlers), sql_logger.propagate)
        outcomes = []

        def second_cron():
            with self.db.cursor() as cr:
                self.env_of(cr)["coop.sale.cycle"]._send_due_reminders()
                cr.commit()  # pylint: disable=invalid-commit
                outcomes.append("done")

        with self.db.cursor() as first:
            self.env_of(first)["coop.sale.cycle"]._send_due_reminders()
            thread = threading.Thread(target=second_cron)
            thread.start()
            self.wait_for_a_lock_wait()
            during = (list(sql_logger.handlers), sql_logger.propagate)
            first.commit()  # pylint: disable=invalid-commit
        thread.join(timeout=30)
        self.assertEqual(outcomes, ["done"])
        self.assertEqual(during, before)
        self.assertEqual(errors, [])
        self.assertEqual(
            self.committed(
                lambda env: env["coop.newsletter.campaign"].search_count(
                    [("connection_id", "=", self.connection_id)]
                )
            ),
            1,
        )

    def wait_for_a_lock_wait(self):
        """Until a transaction of this database waits for a lock."""
        for _attempt in range(100):
            with self.db.cursor() as cr:
                cr.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cr.fetchone()[0]:
                    return
            time.sleep(0.1)
        self.fail("no transaction waits for a lock")
