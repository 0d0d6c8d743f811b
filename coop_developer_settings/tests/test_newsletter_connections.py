# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Newsletter connections: the provider key checked and sealed, owners
only, and the demo shop's buyers synced into the Brevo and Mailchimp fakes
on 127.0.0.1 by the real jobs."""

import io
import json
import logging
from unittest.mock import patch

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import TransactionCase, tagged
from odoo.tools import config, email_normalize

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

from ..crypto import keyring
from ..models import coop_newsletter_connection as connection_base
from ..models import coop_newsletter_connection_sync as connection_sync
from ..models.res_users import GROUP_XMLID
from ..newsletter import mailchimp
from ..newsletter.mailchimp import subscriber_hash
from .common import (
    SYNC_JOB,
    KeyConfigMixin,
    NewsletterFakesMixin,
    RealTransactionsMixin,
    new_developer,
    pending_jobs,
    perform_jobs,
)
from .fakes.brevo import FakeBrevo
from .fakes.common import Reply


class NewsletterCase(NewsletterFakesMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shop = cls.env.ref("base.main_company")
        cls.developer = new_developer(cls.env, "coop-newsletter-dev", cls.shop)
        cls.other = new_developer(cls.env, "coop-newsletter-other", cls.shop)
        cls.admin = cls.env.ref("base.user_admin")
        cls.Connection = cls.env["coop.newsletter.connection"]
        # The demo shop's buyers, as the buyer list holds them.
        cls.buyers = cls.env["coop.buyer"].search([("company_id", "=", cls.shop.id)])

    def raw_row(self, connection):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT row_to_json(c)::text FROM coop_newsletter_connection c "
            "WHERE id = %s",
            [connection.id],
        )
        return self.env.cr.fetchone()[0]


@tagged("post_install", "-at_install")
class TestNewsletterConnect(NewsletterCase):
    def test_a_good_key_connects_and_is_never_read_back(self):
        connection = self.connect()
        self.assertEqual(connection.account_name, "La Coop du Coin")
        self.assertEqual(connection.account_id, self.brevo.organization_id)
        self.assertEqual(connection.state, "connected")
        self.assertEqual(connection.key_hint, self.brevo.key[-4:])
        self.assertEqual(connection.sudo()._key(), self.brevo.key)
        self.assertNotIn(self.brevo.key, self.raw_row(connection))
        for user in (self.developer, self.admin):
            Connection = self.Connection.with_user(user)
            exportable = [
                name for name, field in Connection._fields.items() if field.exportable
            ]
            seen = json.dumps(
                [
                    Connection.browse(connection.id).read(),
                    Connection.search_read([("id", "=", connection.id)]),
                    Connection.fields_get(),
                    Connection.web_search_read(
                        [("id", "=", connection.id)],
                        {name: {} for name in exportable},
                    ),
                    # Exports are the administrators' (group_allow_export).
                    user == self.admin
                    and Connection.browse(connection.id).export_data(exportable),
                ],
                default=str,
            )
            self.assertNotIn(self.brevo.key, seen)
            with (
                self.subTest(user=user.login),
                self.assertRaisesRegex(ValueError, "Invalid field"),
            ):
                Connection.browse(connection.id).read(["api_key_sealed"])

    def test_a_mailchimp_key_connects(self):
        connection = self.connect("mailchimp")
        self.assertEqual(connection.account_name, "La Coop du Coin")
        self.assertEqual(connection.account_id, self.mailchimp.account_id)
        # The data centre alone would look the same for every key of it.
        self.assertEqual(connection.key_hint, "cdef-us21")
        lists = connection.coop_lists()
        self.assertEqual([item["id"] for item in lists], [self.mailchimp_list])

    def test_a_wrong_key_is_refused_and_nothing_is_saved(self):
        with self.assertRaisesRegex(ValidationError, "refused this API key"):
            self.connect(key="xkeysib-wrong0123456789")
        self.assertFalse(self.Connection.sudo().search([]))
        self.assertEqual(len(self.brevo.calls("GET", "/v3/account")), 1)

    def test_no_key_or_a_key_in_the_create_is_refused_plainly(self):
        Connection = self.Connection.with_user(self.developer)
        with self.assertRaisesRegex(ValidationError, "Paste the API key"):
            Connection.create({"provider": "brevo", "company_id": self.shop.id})
        for forged in ("account_name", "account_id"):
            with self.assertRaisesRegex(AccessError, f"Refused: {forged}"):
                Connection.create(
                    {
                        "provider": "brevo",
                        "api_key": self.brevo.key,
                        "company_id": self.shop.id,
                        forged: "forged",
                    }
                )
        self.assertFalse(self.Connection.sudo().search([]))

    def test_only_a_shop_of_the_owner(self):
        elsewhere = self.env["res.company"].create({"name": "Another shop"})
        with self.assertRaisesRegex(ValidationError, "Choose a shop"):
            self.Connection.with_user(self.developer).create(
                {
                    "provider": "brevo",
                    "api_key": self.brevo.key,
                    "company_id": elsewhere.id,
                }
            )
        self.assertFalse(self.brevo.calls())

    def test_ids_that_are_no_record_ids_are_refused_plainly(self):
        """A string or an integer beyond PostgreSQL's never reaches SQL."""
        connection = self.connect()
        for hostile in ("1; DROP TABLE res_company", 2**40, True, [1]):
            with self.assertRaisesRegex(ValidationError, "Choose a shop"):
                self.Connection.with_user(self.developer).create(
                    {
                        "provider": "brevo",
                        "api_key": self.brevo.key,
                        "company_id": hostile,
                    }
                )
            with self.assertRaisesRegex(ValidationError, "Choose a shop"):
                connection.write({"company_id": hostile})
            with self.assertRaisesRegex(ValidationError, "cannot own"):
                self.Connection.with_user(self.admin).create(
                    {
                        "provider": "brevo",
                        "api_key": self.brevo.key,
                        "company_id": self.shop.id,
                        "user_id": hostile,
                    }
                )
        self.assertEqual(self.Connection.sudo().search([]), connection.sudo())

    def test_a_provider_of_the_wrong_kind_is_refused_plainly(self):
        Connection = self.Connection.with_user(self.developer)
        for hostile in (["brevo"], {"brevo": 1}):
            with self.assertRaisesRegex(ValidationError, "Choose Brevo or Mailchimp"):
                Connection.coop_connect(hostile, self.brevo.key, self.shop.id)
        self.assertFalse(self.Connection.sudo().search([]))
        self.assertFalse(self.brevo.calls())

    def test_another_user_neither_sees_nor_changes_it(self):
        connection = self.connect()
        Other = self.Connection.with_user(self.other)
        self.assertFalse(Other.search([]))
        with self.assertRaises(AccessError):
            Other.browse(connection.id).read(["account_name"])
        with self.assertRaises(AccessError):
            Other.browse(connection.id).write({"company_id": self.shop.id})
        with self.assertRaises(AccessError):
            Other.browse(connection.id).action_disconnect()
        with self.assertRaises(AccessError):
            Other.browse(connection.id).coop_lists()
        # Administrators see every connection.
        self.assertIn(connection, self.Connection.with_user(self.admin).search([]))

    def test_administrators_connect_for_a_user_with_the_access_only(self):
        Connection = self.Connection.with_user(self.admin)
        connection = Connection.create(
            {
                "provider": "brevo",
                "api_key": self.brevo.key,
                "company_id": self.shop.id,
                "user_id": self.developer.id,
            }
        )
        self.assertEqual(connection.user_id, self.developer)
        plain = new_developer(self.env, "coop-newsletter-plain", self.shop)
        plain.groups_id = [
            Command.unlink(
                self.env.ref("coop_developer_settings.group_developer_settings").id
            )
        ]
        with self.assertRaisesRegex(ValidationError, "cannot own newsletter"):
            Connection.create(
                {
                    "provider": "brevo",
                    "api_key": self.brevo.key,
                    "company_id": self.shop.id,
                    "user_id": plain.id,
                }
            )
        with self.assertRaisesRegex(AccessError, "only connect your own"):
            self.Connection.with_user(self.developer).create(
                {
                    "provider": "brevo",
                    "api_key": self.brevo.key,
                    "company_id": self.shop.id,
                    "user_id": self.other.id,
                }
            )

    def test_another_shop_syncs_from_the_start_and_a_lost_shop_fails(self):
        second = self.env["res.company"].create({"name": "Second shop"})
        self.developer.company_ids = [Command.link(second.id)]
        connection = self.connect()
        connection.action_set_list(str(self.brevo_list))
        connection.sudo().sync_cursor = "1.5.0.0"
        connection.company_id = second
        self.assertFalse(connection.sync_cursor)
        self.developer.company_ids = [Command.unlink(second.id)]
        connection.invalidate_recordset()
        connection.action_sync_now()
        perform_jobs(self.env, method=SYNC_JOB)
        connection.invalidate_recordset()
        self.assertEqual(connection.state, "failing")
        self.assertIn("not allowed on company", connection.last_error)
        self.assertFalse(self.brevo.calls("POST", "/v3/contacts/import"))

    def test_the_lifecycle_only_changes_through_the_buttons(self):
        connection = self.connect()
        with self.assertRaisesRegex(AccessError, "Refused: state, sync_cursor"):
            connection.write({"state": "connected", "sync_cursor": "1.1.0.0"})
        # Nor the failing warning's streak (the owner's email silenced).
        with self.assertRaisesRegex(AccessError, "Refused: warned_failing_since"):
            connection.write({"warned_failing_since": fields.Datetime.now()})

    def test_connections_are_capped_per_user(self):
        for _number in range(10):
            self.connect()
        with self.assertRaisesRegex(ValidationError, "At most 10"):
            self.connect()

    def test_the_list_is_one_of_the_accounts(self):
        connection = self.connect()
        self.assertEqual(
            connection.coop_lists(),
            [{"id": str(self.brevo_list), "name": "Buyers", "members": 0}],
        )
        with self.assertRaisesRegex(ValidationError, "not one of the account's"):
            connection.action_set_list("999")
        connection.action_set_list(str(self.brevo_list))
        self.assertEqual(connection.list_name, "Buyers")

    def test_a_list_id_that_is_no_mailchimp_id_is_refused(self):
        connection = self.connect("mailchimp")
        self.mailchimp.rewrite(
            "GET",
            "/lists",
            lambda reply: Reply(
                200,
                {**reply.body, "lists": [{"id": "list1/../x?", "name": "Evil"}]},
            ),
        )
        with self.assertRaisesRegex(UserError, "cannot be read"):
            connection.action_set_list("list1/../x?")
        self.assertFalse(connection.list_id)

    def test_disconnect_forgets_the_key(self):
        connection = self.connect()
        connection.action_disconnect()
        self.assertEqual(connection.state, "disconnected")
        self.env.cr.execute(
            "SELECT api_key_sealed FROM coop_newsletter_connection WHERE id = %s",
            [connection.id],
        )
        self.assertIsNone(self.env.cr.fetchone()[0])

    def test_access_removal_and_archiving_disconnect(self):
        connection = self.connect()
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
        self.assertEqual(connection.sudo().state, "disconnected")
        self.assertEqual(
            connection.sudo().disconnected_reason, "Developer settings access removed."
        )
        kept = self.connect(user=self.other)
        self.other.action_archive()
        self.assertEqual(kept.sudo().state, "disconnected")

    def test_deleting_the_user_deletes_the_connection(self):
        connection = self.connect()
        self.developer.unlink()
        self.assertFalse(connection.sudo().exists())


@tagged("post_install", "-at_install")
class TestNewsletterSync(NewsletterCase):
    def buyer(self, name):
        return self.buyers.filtered(lambda buyer: buyer.name == name)

    def settle_cursor(self, connection):
        """The stored sync cursor, as a quiet server gives it.

        Its watermark is the oldest transaction running anywhere on the
        PostgreSQL server (the buyer API may send a row again, never miss
        one): another test's long transaction, even in another database,
        would make the next sync send the demo buyers again. Moved to this
        test's own transaction, what a server running nothing else gives.
        """
        cursor = connection.sync_cursor
        self.assertRegex(cursor, r"^1\.[0-9]+\.0\.0$")
        self.env.cr.execute("SELECT pg_current_xact_id()::text")
        own = self.env.cr.fetchone()[0]
        self.assertGreaterEqual(int(own), int(cursor.split(".")[1]))
        connection.sudo().sync_cursor = f"1.{own}.0.0"

    def changes(self):
        """Joel Willis opts out, Ready Mat's orders are cancelled."""
        self.env["mail.blacklist"]._add(self.buyer("Joel Willis").email)
        self.env["sale.order"].search(
            [
                ("partner_id", "=", self.buyer("Ready Mat").partner_id.id),
                ("company_id", "=", self.shop.id),
                ("state", "=", "sale"),
            ]
        )._action_cancel()
        self.env.flush_all()

    def test_brevo_first_sync_then_only_the_changes(self):
        connection = self.connect()
        connection.action_set_list(str(self.brevo_list))
        self.sync(connection)
        addresses = {buyer.email.lower() for buyer in self.buyers}
        self.assertEqual(len(addresses), 6)
        self.assertEqual(self.brevo.members(self.brevo_list), addresses)
        self.assertEqual(connection.state, "connected")
        self.assertEqual(connection.last_sync_subscribed, 6)
        self.assertTrue(connection.last_sync_at)
        joel = self.brevo.contact("joel.willis63@example.com")
        self.assertEqual(joel["attributes"]["FIRSTNAME"], "Joel")
        self.assertEqual(joel["attributes"]["LASTNAME"], "Willis")
        self.assertEqual(joel["attributes"]["COOP_SHOP"], self.shop.name)
        gemini = self.brevo.contact("gemini_furniture@fake.geminifurniture.com")
        self.assertEqual(gemini["attributes"]["FIRSTNAME"], "Gemini Furniture")
        self.assertNotIn("LASTNAME", gemini["attributes"])
        imported = len(self.brevo.calls("POST", "/v3/contacts/import"))

        self.settle_cursor(connection)
        self.changes()
        self.sync(connection)
        imports = self.brevo.calls("POST", "/v3/contacts/import")[imported:]
        sent = [row["email"] for call in imports for row in call["body"]["jsonBody"]]
        self.assertEqual(sent, ["joel.willis63@example.com"])
        self.assertTrue(imports[0]["body"]["emailBlacklist"])
        removals = self.brevo.calls("POST", r"/v3/contacts/lists/\d+/contacts/remove")
        self.assertEqual(
            [call["body"]["emails"] for call in removals], [["ready.mat28@example.com"]]
        )
        self.assertTrue(self.brevo.contact("joel.willis63@example.com")["blacklisted"])
        self.assertNotIn("ready.mat28@example.com", self.brevo.members(self.brevo_list))
        self.assertEqual(
            (
                connection.last_sync_subscribed,
                connection.last_sync_opted_out,
                connection.last_sync_removed,
            ),
            (0, 1, 1),
        )

    def test_a_brevo_job_sends_several_pages_in_one_import(self):
        """Each Brevo import is followed by polls of its status, which
        Brevo counts in 100 requests an hour: a job sends several pages of
        the buyer list in one import (with pages of 2 buyers and 3 pages a
        job, the 6 buyers in one import)."""
        connection = self.connect()
        connection.action_set_list(str(self.brevo_list))
        with (
            patch.object(connection_sync, "PAGE_SIZE", 2),
            patch.dict(connection_sync.PAGES_PER_JOB, {"brevo": 3}),
        ):
            self.sync(connection)
        imports = self.brevo.calls("POST", "/v3/contacts/import")
        self.assertEqual(len(imports), 1)
        self.assertEqual(len(imports[0]["body"]["jsonBody"]), 6)
        self.assertEqual(connection.last_sync_subscribed, 6)
        self.assertEqual(connection.state, "connected")

    def test_mailchimp_first_sync_then_only_the_changes(self):
        connection = self.connect("mailchimp")
        connection.action_set_list(self.mailchimp_list)
        self.sync(connection)
        for buyer in self.buyers:
            self.assertEqual(
                self.mailchimp.status(self.mailchimp_list, buyer.email.lower()),
                "subscribed",
            )
        known = {
            subscriber_hash(buyer.email.lower()): buyer.email.lower()
            for buyer in self.buyers
        }
        requests_before = len(self.mailchimp.requests)
        self.settle_cursor(connection)
        self.changes()
        self.sync(connection)
        self.assertEqual(
            self.mailchimp.status(self.mailchimp_list, "joel.willis63@example.com"),
            "unsubscribed",
        )
        self.assertEqual(
            self.mailchimp.status(self.mailchimp_list, "ready.mat28@example.com"),
            "archived",
        )
        # Nobody else was sent.
        touched = {
            address
            for request in self.mailchimp.requests[requests_before:]
            for address in _addresses(request, known)
        }
        self.assertEqual(
            touched, {"joel.willis63@example.com", "ready.mat28@example.com"}
        )

    def test_mailchimp_audience_gets_the_fields_the_sync_fills(self):
        self.developer.lang = "fr_FR"
        connection = self.connect("mailchimp")
        connection.action_set_list(self.mailchimp_list)
        fields = self.mailchimp.merge_fields[self.mailchimp_list]
        self.assertLessEqual(
            {"SHOP", "FIRSTORDER", "LASTORDER", "ORDERS", "LASTCYCLE", "PHONE"},
            set(fields),
        )
        # Named in the owner's language.
        self.assertEqual(fields["FIRSTORDER"]["name"], "Première commande")
        # Deleted in Mailchimp since: the first page of the import adds it.
        del fields["SHOP"]
        self.sync(connection)
        self.assertIn("SHOP", fields)
        buyer = self.buyers.filtered(lambda b: b.order_count)[0]
        member = self.mailchimp.members[self.mailchimp_list][buyer.email.lower()]
        self.assertEqual(member["merge_fields"]["SHOP"], self.shop.name)
        self.assertEqual(member["merge_fields"]["ORDERS"], buyer.order_count)
        self.assertEqual(
            member["merge_fields"]["LASTORDER"],
            buyer.last_order_date.date().isoformat(),
        )

    def test_brevo_account_gets_the_attributes_the_sync_fills(self):
        connection = self.connect()
        self.assertNotIn("COOP_SHOP", self.brevo.attributes)
        connection.action_set_list(str(self.brevo_list))
        self.assertEqual(self.brevo.attributes["COOP_SHOP"], "text")
        self.assertEqual(self.brevo.attributes["COOP_FIRST_ORDER"], "date")

    def test_a_full_mailchimp_audience_is_refused_at_list_choice(self):
        connection = self.connect("mailchimp")
        full = self.mailchimp.add_list(
            "Full", {f"F{n}": (f"Field {n}", "text") for n in range(30)}
        )
        with self.assertRaisesRegex(
            UserError, "could not be added to this list: .*maximum of 30 merge fields"
        ):
            connection.action_set_list(full)
        self.assertFalse(connection.list_id)

    def test_a_sync_failing_for_an_hour_warns_its_owner_once_per_streak(self):
        connection = self.connect()
        connection.action_set_list(str(self.brevo_list))
        self.sync(connection)
        self.changes()  # something to send at each sync below
        self.developer.lang = "en_US"  # the owner reads it in their language
        Message = self.env["mail.message"]

        def warnings():
            return Message.search(
                [
                    ("partner_ids", "in", self.developer.partner_id.ids),
                    ("subject", "=like", "Newsletter tool failing:%"),
                ]
            )

        self.brevo.down_after = 0
        self.sync(connection)
        self.assertEqual(connection.state, "failing")
        self.assertFalse(warnings(), "a first failure is only shown in the tab")
        connection.sudo().failing_since = fields.Datetime.subtract(
            fields.Datetime.now(), hours=1, minutes=1
        )
        for _attempt in range(2):
            self.sync(connection)
        [warning] = warnings()
        self.assertEqual(
            warning.subject, "Newsletter tool failing: Brevo (La Coop du Coin)"
        )
        self.assertIn("Service Unavailable", warning.body)
        self.assertNotIn(self.brevo.key, warning.body)
        # Mended, then failing again for an hour: a new streak, a new warning.
        self.brevo.down_after = None
        self.sync(connection)
        self.assertEqual(connection.state, "connected")
        # (In one test transaction, the sync cursor's watermark stays: the
        # changes are sent again.)
        self.brevo.down_after = 0
        self.sync(connection)
        connection.sudo().failing_since = fields.Datetime.subtract(
            fields.Datetime.now(), hours=2
        )
        self.sync(connection)
        self.assertEqual(len(warnings()), 2)

    def test_a_provider_error_is_recorded_and_the_cursor_kept(self):
        connection = self.connect()
        connection.action_set_list(str(self.brevo_list))
        self.sync(connection)
        cursor = connection.sync_cursor
        self.assertTrue(cursor)
        self.changes()
        for hostile in ("html", "down"):
            with self.subTest(hostile=hostile):
                if hostile == "down":
                    self.brevo.down_after = 0
                else:
                    self.brevo.hostile = hostile
                self.sync(connection)
                self.brevo.hostile = self.brevo.down_after = None
                self.assertEqual(connection.state, "failing")
                self.assertTrue(connection.failing_since)
                self.assertRegex(
                    connection.last_error,
                    "^Brevo: (HTTP 502 with an unreadable body|Service Unavailable)",
                )
                self.assertEqual(connection.sync_cursor, cursor)
        self.assertTrue(self.brevo.contact("joel.willis63@example.com"))
        self.sync(connection)
        self.assertEqual(connection.state, "connected")
        self.assertFalse(connection.failing_since)
        self.assertFalse(connection.last_error)
        # The changes kept for the failed syncs were sent (in one test
        # transaction, the sync cursor's watermark stays the same).
        self.assertEqual(
            (connection.last_sync_opted_out, connection.last_sync_removed), (1, 1)
        )
        self.assertTrue(self.brevo.contact("joel.willis63@example.com")["blacklisted"])

    def test_a_mailchimp_batch_never_finished_is_recorded_the_cursor_kept(self):
        """Mailchimp's batch operations are followed within the workers' time
        limit (limit_time_real, less the margin for the rest of the job):
        one still running then is a recorded error, and the page is sent
        again by the next sync."""
        connection = self.connect("mailchimp")
        connection.action_set_list(self.mailchimp_list)
        self.sync(connection)
        self.settle_cursor(connection)
        cursor = connection.sync_cursor
        self.changes()
        self.mailchimp.batch_delay = 30
        limit = connection_base.FOLLOW_MARGIN + 1
        with (
            patch.object(mailchimp, "BATCH_FROM", 1),
            patch.dict(config.options, limit_time_real=limit),
        ):
            self.sync(connection)
            self.assertEqual(connection.state, "failing")
            self.assertRegex(
                connection.last_error,
                r"^Mailchimp: the batch operation \w+ did not finish within 1 s$",
            )
            self.assertEqual(connection.sync_cursor, cursor)
            self.assertEqual(
                self.mailchimp.status(self.mailchimp_list, "ready.mat28@example.com"),
                "subscribed",
            )
            self.mailchimp.batch_delay = 0
            self.sync(connection)
        self.assertEqual(connection.state, "connected")
        self.assertEqual(
            (connection.last_sync_opted_out, connection.last_sync_removed), (1, 1)
        )
        self.assertEqual(
            self.mailchimp.status(self.mailchimp_list, "ready.mat28@example.com"),
            "archived",
        )

    def test_a_rate_limit_reschedules_the_job_after_its_reset(self):
        connection = self.connect()
        connection.action_set_list(str(self.brevo_list))
        connection.action_sync_now()
        self.brevo.throttle(1, reset=300)
        job = Job.load(self.env, pending_jobs(self.env, SYNC_JOB).uuid)
        with self.assertRaises(RetryableJobError) as caught:
            job.perform()
        self.assertEqual(caught.exception.seconds, 301)
        self.assertFalse(connection.sync_cursor)

    def test_the_key_is_in_no_log_line(self):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        root = logging.getLogger()
        level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            connection = self.connect("mailchimp")
            connection.action_set_list(self.mailchimp_list)
            self.sync(connection)
            self.env["mail.blacklist"]._add("joel.willis63@example.com")
            self.mailchimp.hostile = "html"
            self.sync(connection)
            self.mailchimp.hostile = None
            with self.assertRaises(ValidationError):
                self.connect("mailchimp", key="0123456789abcdef0123456789abcdee-us21")
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
        logged = stream.getvalue()
        self.assertIn("sync failed", logged)
        self.assertNotIn(self.mailchimp.key, logged)
        self.assertNotIn(self.mailchimp.key.split("-")[0], logged)
        self.assertNotIn("0123456789abcdef0123456789abcdee", logged)


def _api_address(email):
    """email_normalized as the buyer API gives it: null unless the field
    holds one address."""
    return email_normalize(email) if email and email.count("@") == 1 else None


def _addresses(request, known):
    """The addresses a Mailchimp request sends, or names by their hash
    (known: {hash: address})."""
    body = request["body"] or {}
    found = {member["email_address"] for member in body.get("members", [])}
    if body.get("email_address"):
        found.add(body["email_address"])
    if "/members/" in request["path"]:
        member_hash = request["path"].rsplit("/", 1)[1]
        found.add(known.get(member_hash, member_hash))
    return found


@tagged("post_install", "-at_install")
class TestNewsletterContacts(NewsletterCase):
    """What the buyer API's rows become (rows as _buyer_page gives them)."""

    def row(self, row_id, email, **values):
        return {
            "id": row_id,
            "removed": False,
            "partner_id": None,
            "name": "Zoë Martin",
            "email": email,
            "email_normalized": _api_address(email),
            "phone": None,
            "company": {"id": self.shop.id, "name": self.shop.name},
            "first_order_date": "2026-10-01 08:00:00",
            "last_order_date": "2026-11-20 08:00:00",
            "order_count": 3,
            "last_cycle": {"id": 1, "name": "Early winter"},
            "opt_out": False,
            **values,
        }

    def tombstone(self, row_id, email, **values):
        return {
            "id": row_id,
            "removed": True,
            "partner_id": None,
            "email": email,
            "email_normalized": _api_address(email),
            **values,
        }

    def test_one_contact_per_valid_address(self):
        connection = self.connect()
        farm = self.env["res.partner"].create(
            {"name": "Les Jardins du Coin", "is_company": True}
        )
        rows = [
            self.row(1, "Zoë  <Zoe@Example.org>", name="Zoë  Anne Martin"),
            self.row(2, "a@example.org, b@example.org"),
            self.row(3, None),
            self.row(4, "not an address"),
            self.row(5, "jardins@example.org", partner_id=farm.id, name=farm.name),
            # Shared: the active buyer wins over the removed one, then the
            # latest order; opted out stays opted out.
            self.tombstone(6, "shared@example.org"),
            self.row(7, "shared@example.org", name="Old Name", opt_out=True),
            self.row(
                8,
                "shared@example.org",
                name="New Name",
                last_order_date="2026-11-30 08:00:00",
            ),
            # The same, the latest order first.
            self.row(
                11,
                "both@example.org",
                name="New Name",
                last_order_date="2026-11-30 08:00:00",
            ),
            self.row(12, "both@example.org", name="Old Name", opt_out=True),
            # Removed, but another active buyer of the shop has the address.
            self.tombstone(9, "joel.willis63@example.com"),
            self.tombstone(10, "gone@example.org"),
        ]
        contacts, counts = connection._contacts(rows)
        by_address = {contact.email: contact for contact in contacts}
        self.assertEqual(
            sorted(by_address),
            [
                "both@example.org",
                "gone@example.org",
                "jardins@example.org",
                "shared@example.org",
                "zoe@example.org",
            ],
        )
        self.assertEqual((counts["several"], counts["none"]), (1, 2))
        zoe = by_address["zoe@example.org"]
        self.assertEqual((zoe.first_name, zoe.last_name), ("Zoë", "Anne Martin"))
        self.assertEqual(zoe.shop, self.shop.name)
        self.assertEqual(zoe.last_cycle, "Early winter")
        self.assertEqual(zoe.order_count, 3)
        self.assertEqual(str(zoe.last_order), "2026-11-20")
        jardins = by_address["jardins@example.org"]
        self.assertEqual((jardins.first_name, jardins.last_name), (farm.name, ""))
        shared = by_address["shared@example.org"]
        self.assertEqual(shared.first_name, "New")
        self.assertEqual(shared.state, "opted_out")
        both = by_address["both@example.org"]
        self.assertEqual((both.first_name, both.state), ("New", "opted_out"))
        self.assertEqual(by_address["gone@example.org"].state, "removed")

    def test_a_former_address_still_in_use_is_not_taken_off(self):
        """An address change takes the former address off the list only
        when no buyer of the page or of the shop has it any more."""
        connection = self.connect()
        rows = [
            # Another active buyer of the shop (the demo's Joel Willis).
            self.row(1, "new@example.org", previous_email="Joel.Willis63@example.com"),
            # Another buyer of the same page.
            self.row(2, "b@example.org", previous_email="c@example.org"),
            self.row(3, "c@example.org"),
            # Nobody any more.
            self.row(4, "moved@example.org", previous_email="old@example.org"),
        ]
        contacts, _counts = connection._contacts(rows)
        self.assertEqual(
            {contact.email: contact.previous_email for contact in contacts},
            {
                "new@example.org": None,
                "b@example.org": None,
                "c@example.org": None,
                "moved@example.org": "old@example.org",
            },
        )

    def test_the_former_address_of_a_row_that_lost_the_dedup_is_taken_off(self):
        connection = self.connect()
        older = {"last_order_date": "2026-10-02 08:00:00"}
        rows = [
            self.row(1, "d@example.org", previous_email="old-d@example.org", **older),
            self.row(2, "d@example.org"),
            # Both moved: the winner takes its own off, the other a removal.
            self.row(3, "e@example.org", previous_email="old-e1@example.org", **older),
            self.row(4, "e@example.org", previous_email="old-e2@example.org"),
        ]
        contacts, _counts = connection._contacts(rows)
        self.assertEqual(
            sorted((c.email, c.state, c.previous_email) for c in contacts),
            [
                ("d@example.org", "subscribed", "old-d@example.org"),
                ("e@example.org", "subscribed", "old-e2@example.org"),
                ("old-e1@example.org", "removed", None),
            ],
        )

    def test_the_address_is_the_pages_own(self):
        """The page's email_normalized, null for a field holding several
        addresses, is the address sent and the one the still-bought check
        compares: a buyer whose field holds several does not keep an
        address on the list that the sync never sends for them."""
        joel = self.buyers.filtered(lambda buyer: buyer.name == "Joel Willis")
        joel.partner_id.email = "joel.willis63@example.com, joel@example.net"
        rows = [
            self.tombstone(1, "joel.willis63@example.com"),
            self.row(2, joel.partner_id.email),
            # Only the page's address counts, not the field re-read.
            self.row(3, "Zoë <zoe@example.org>", email_normalized=None),
        ]
        contacts, counts = self.connect()._contacts(rows)
        self.assertEqual(
            [(c.email, c.state) for c in contacts],
            [("joel.willis63@example.com", "removed")],
        )
        self.assertEqual((counts["several"], counts["none"]), (1, 1))

    def test_phones_in_e164_or_none(self):
        connection = self.connect()
        rows = [
            self.row(1, "one@example.org", phone="+33 6 12 34 56 78"),
            self.row(2, "two@example.org", phone="call me"),
        ]
        contacts, _counts = connection._contacts(rows)
        self.assertEqual([c.phone for c in contacts], ["+33612345678", None])

    def test_national_phones_read_with_the_customers_or_the_shops_country(self):
        self.shop.country_id = self.env.ref("base.fr")
        belgian = self.env["res.partner"].create(
            {"name": "Lotte Peeters", "country_id": self.env.ref("base.be").id}
        )
        rows = [
            self.row(
                1, "lotte@example.org", partner_id=belgian.id, phone="0470 12 34 56"
            ),
            self.row(2, "zoe@example.org", phone="06 12 34 56 78"),
            self.row(3, "short@example.org", phone="06 12"),
        ]
        contacts, _counts = self.connect()._contacts(rows)
        self.assertEqual(
            [c.phone for c in contacts], ["+32470123456", "+33612345678", None]
        )


@tagged("post_install", "-at_install")
class TestNewsletterCron(NewsletterCase):
    def test_the_cron_queues_every_connection_with_a_list(self):
        ready, stuck, no_list, gone = (self.connect() for _number in range(4))
        for connection in (ready, stuck, gone):
            connection.action_set_list(str(self.brevo_list))
        stuck.sudo().write({"state": "syncing"})
        gone.action_disconnect()
        queued = self.Connection._cron_sync()
        self.assertEqual(queued, (ready | stuck).sudo())
        self.assertEqual(len(pending_jobs(self.env, SYNC_JOB)), 2)
        # Queued twice, run once.
        self.Connection._cron_sync()
        self.assertEqual(len(pending_jobs(self.env, SYNC_JOB)), 2)
        perform_jobs(self.env, method=SYNC_JOB)
        self.assertEqual(ready.state, "connected")
        self.assertEqual(stuck.state, "connected")
        self.assertEqual(
            self.brevo.members(self.brevo_list),
            {buyer.email.lower() for buyer in self.buyers},
        )

    def test_the_cron_leaves_owners_without_the_access(self):
        """The access removed with the keys kept on request, or the owner
        archived so: the connection stays, its buyers are not sent."""
        archived, demoted = self.connect(), self.connect(user=self.other)
        for connection in (archived, demoted):
            connection.action_set_list(str(self.brevo_list))
        self.developer.write({"active": False, "coop_revoke_on_access_removal": False})
        self.other.write(
            {
                "groups_id": [Command.unlink(self.env.ref(GROUP_XMLID).id)],
                "coop_revoke_on_access_removal": False,
            }
        )
        self.assertEqual((archived | demoted).sudo().mapped("state"), ["connected"] * 2)
        self.assertFalse(self.Connection._cron_sync())
        self.assertFalse(pending_jobs(self.env, SYNC_JOB))

    def test_a_sync_under_way_is_not_started_again(self):
        """queue_job's identity check sees only waiting jobs: while a page
        job runs, neither the cron nor Sync now starts a second chain
        (which would send the same pages again and reset the counts)."""
        connection = self.connect()
        connection.action_set_list(str(self.brevo_list))
        connection.action_sync_now()
        running = pending_jobs(self.env, SYNC_JOB)
        running.state = "started"
        self.assertFalse(self.Connection._cron_sync())
        connection.action_sync_now()
        self.assertFalse(pending_jobs(self.env, SYNC_JOB))
        # The running page queues the next one (first=False): one job, that
        # a later cron or Sync now does not double.
        connection.sudo().with_delay(
            identity_key=connection_sync._sync_identity
        )._sync_job()
        self.Connection._cron_sync()
        connection.action_sync_now()
        self.assertEqual(len(pending_jobs(self.env, SYNC_JOB)), 1)
        # Once the sync ended, the cron queues it again.
        running.state = "done"
        pending_jobs(self.env, SYNC_JOB).state = "done"
        self.assertEqual(self.Connection._cron_sync(), connection.sudo())
        self.assertEqual(len(pending_jobs(self.env, SYNC_JOB)), 1)


@tagged("post_install", "-at_install")
class TestNewsletterLockWait(RealTransactionsMixin, TransactionCase):
    """A page job waiting for another page of its connection, in two real
    transactions: the connection is committed first and removed at the end."""

    def setUp(self):
        super().setUp()
        with self.db.cursor() as cr:
            cr.execute(
                "INSERT INTO coop_newsletter_connection "
                "(user_id, company_id, provider, state, list_id, account_name) "
                "VALUES (%s, %s, 'brevo', 'syncing', '1', 'Lock wait') RETURNING id",
                [self.env.ref("base.user_admin").id, self.env.company.id],
            )
            self.connection_id = cr.fetchone()[0]
        self.addCleanup(self.remove_connection)

    def remove_connection(self):
        with self.db.cursor() as cr:
            cr.execute(
                "DELETE FROM coop_newsletter_connection WHERE id = %s",
                [self.connection_id],
            )

    def test_waiting_for_another_page_is_not_a_try(self):
        """queue_job counts each run against max_retries: the runs put back
        while another page holds the connection must not use them up."""
        with self.db.cursor() as holder, self.db.cursor() as cr:
            holder.execute(
                "SELECT id FROM coop_newsletter_connection WHERE id = %s FOR UPDATE",
                [self.connection_id],
            )
            connection = self.env_of(cr)["coop.newsletter.connection"].browse(
                self.connection_id
            )
            job = Job(connection._sync_job, job_uuid="the-sync", max_retries=5)
            with self.assertRaises(RetryableJobError) as caught:
                job.perform()
            cr.rollback()
            holder.rollback()
        self.assertTrue(caught.exception.ignore_retry)
        self.assertEqual(job.retry, 0)


@tagged("post_install", "-at_install")
class TestNewsletterKeyRotation(KeyConfigMixin, NewsletterCase):
    def test_the_key_rotation_reencrypts_provider_keys(self):
        old = keyring.new_entry_text()
        self.use_keys(data_dir=self.data_dir, coop_secret_key=old)
        connection = self.connect()
        new = keyring.new_entry_text()
        self.use_keys(
            data_dir=self.data_dir, coop_secret_key=f"{new},{old} {self.server_keys}"
        )
        vault = self.env["coop.secret.vault"]
        self.assertIn(
            ("coop_newsletter_connection", "api_key_sealed"), vault._sealed_columns()
        )
        while vault._reencrypt_batch("coop_newsletter_connection", "api_key_sealed", 5):
            pass
        self.use_keys(
            data_dir=self.data_dir, coop_secret_key=f"{new} {self.server_keys}"
        )
        self.assertEqual(connection.sudo()._key(), self.brevo.key)


@tagged("post_install", "-at_install")
class TestNewsletterSettings(TransactionCase):
    def test_the_sync_interval_is_the_crons(self):
        cron = self.env.ref(
            "coop_developer_settings.ir_cron_sync_newsletter_connections"
        )
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.coop_newsletter_sync_minutes, 15)
        settings.coop_newsletter_sync_minutes = 60
        settings.execute()
        self.assertEqual((cron.interval_number, cron.interval_type), (60, "minutes"))
        cron.write({"interval_number": 2, "interval_type": "hours"})
        self.assertEqual(
            self.env["res.config.settings"].create({}).coop_newsletter_sync_minutes,
            120,
        )
        for minutes in (0, 4, 1441):
            settings = self.env["res.config.settings"].create(
                {"coop_newsletter_sync_minutes": minutes}
            )
            with (
                self.subTest(minutes=minutes),
                self.assertRaisesRegex(ValidationError, "every 5 to 1440 minutes"),
            ):
                settings.execute()
        self.assertEqual(cron.interval_number, 2)

    def test_messages_are_in_french(self):
        developer = new_developer(
            self.env, "coop-newsletter-fr", self.env.ref("base.main_company")
        )
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["coop_developer_settings"], ["fr_FR"], overwrite=True
        )
        developer.lang = "fr_FR"
        with (
            FakeBrevo(import_delay=0) as fake,
            patch.dict(config.options, {"coop_newsletter_brevo_url": fake.url}),
        ):
            with self.assertRaisesRegex(ValidationError, "a refusé cette clé d'API"):
                self.env["coop.newsletter.connection"].with_user(
                    developer
                ).with_context(lang=developer.lang).create(
                    {
                        "provider": "brevo",
                        "api_key": "xkeysib-wrong0123456789",
                        "company_id": developer.company_id.id,
                    }
                )
