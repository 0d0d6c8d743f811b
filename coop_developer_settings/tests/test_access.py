# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Developer settings access: its group, who may hold it, what it opens
(the tab, the key wizards, over the web client and XML-RPC), and every path
that takes it away (revoking the keys, disabling the webhooks)."""

import importlib.util
from datetime import datetime, timedelta
from pathlib import Path

from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged

from .common import GROUP_XMLID, WebhookCase, XmlrpcAssertionsMixin

RESTRICT_PARAM = "coop_developer_settings.restrict_api_key_creation"


@tagged("post_install", "-at_install")
class TestAccessGroup(TransactionCase):
    """The Developer settings access group that admins grant to users."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.group = cls.env.ref(GROUP_XMLID)

    def test_group_has_its_own_category(self):
        self.assertEqual(self.group.name, "Developer settings access")
        category = self.env.ref(
            "coop_developer_settings.module_category_developer_settings"
        )
        self.assertEqual(self.group.category_id, category)
        self.assertEqual(
            category.name,
            "Developer settings",
            "the group must not be mixed into another application's category",
        )

    def test_administrators_have_the_access(self):
        self.assertIn(self.group, self.env.ref("base.group_system").implied_ids)
        self.assertTrue(self.env.ref("base.user_admin").has_group(GROUP_XMLID))
        new_admin = new_test_user(
            self.env, login="coop-admin", groups="base.group_system"
        )
        self.assertTrue(new_admin.has_group(GROUP_XMLID))

    def test_other_users_need_an_explicit_grant(self):
        user = new_test_user(self.env, login="coop-user", groups="base.group_user")
        self.assertFalse(user.has_group(GROUP_XMLID))
        manager = new_test_user(
            self.env, login="coop-sales-manager", groups="sales_team.group_sale_manager"
        )
        self.assertFalse(manager.has_group(GROUP_XMLID))
        user.write({"groups_id": [Command.link(self.group.id)]})
        self.assertTrue(user.has_group(GROUP_XMLID))

        user.write({"groups_id": [Command.unlink(self.group.id)]})
        self.assertFalse(user.has_group(GROUP_XMLID))

    def test_portal_users_cannot_be_granted(self):
        """The access is for internal users: it implies the Internal User group."""
        self.assertIn(self.env.ref("base.group_user"), self.group.implied_ids)
        portal = new_test_user(
            self.env, login="coop-portal", groups="base.group_portal"
        )
        with self.assertRaises(ValidationError):
            portal.write({"groups_id": [Command.link(self.group.id)]})


def in_30_days():
    return datetime.now() + timedelta(days=30)


@tagged("post_install", "-at_install")
class TestDeveloperSettingsAccess(XmlrpcAssertionsMixin, HttpCase):
    """The tab is shown by group, and the server refuses what it hides."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.developer = new_test_user(
            cls.env, login="coop-dev", groups=f"base.group_user,{GROUP_XMLID}"
        )
        cls.plain_user = new_test_user(
            cls.env, login="coop-plain", groups="base.group_user"
        )

    def preferences_arch(self, user):
        view = self.env.ref("base.view_users_form_simple_modif")
        return self.env["res.users"].with_user(user).get_view(view.id)["arch"]

    def test_tab_in_own_preferences_only_with_the_access(self):
        self.assertIn(
            'name="coop_developer_settings"', self.preferences_arch(self.developer)
        )
        self.assertNotIn(
            'name="coop_developer_settings"', self.preferences_arch(self.plain_user)
        )

    def test_tab_on_user_and_partner_forms_for_administrators(self):
        admin = self.env.ref("base.user_admin")
        for model, view in (
            ("res.users", "base.view_users_form"),
            ("res.partner", "base.view_partner_form"),
        ):
            arch = (
                self.env[model].with_user(admin).get_view(self.env.ref(view).id)["arch"]
            )
            self.assertIn('name="coop_developer_settings"', arch, model)
        self.assertTrue(self.developer.coop_developer_access)
        self.assertFalse(self.plain_user.coop_developer_access)
        self.assertEqual(
            self.developer.partner_id.coop_developer_user_id, self.developer
        )
        self.assertFalse(self.plain_user.partner_id.coop_developer_user_id)

    def test_server_refuses_without_the_access(self):
        user_env = self.env(user=self.plain_user)
        with self.assertRaises(AccessError):
            user_env["res.users"].browse(
                self.plain_user.id
            ).action_coop_generate_api_key()
        with self.assertRaises(AccessError):
            user_env["coop.api.key.wizard"].create({"name": "x", "duration": "1"})
        with self.assertRaises(AccessError):
            user_env["coop.api.key.wizard"].check_access_make_key()
        with self.assertRaises(AccessError):
            user_env["coop.buyer"].search([])

    def test_users_generate_keys_only_for_themselves(self):
        with self.assertRaises(AccessError):
            self.env(user=self.developer)["res.users"].browse(
                self.plain_user.id
            ).action_coop_generate_api_key()
        action = (
            self.env(user=self.developer)["res.users"]
            .browse(self.developer.id)
            .action_coop_generate_api_key()
        )
        self.assertEqual(action["res_model"], "coop.api.key.wizard")

    def test_setting_restricts_odoos_own_key_wizard(self):
        native = self.env(user=self.plain_user)["res.users.apikeys.description"]
        self.assertTrue(self.env["ir.config_parameter"].get_param(RESTRICT_PARAM))
        with self.assertRaises(AccessError):
            native.check_access_make_key()
        self.env(user=self.developer)[
            "res.users.apikeys.description"
        ].check_access_make_key()
        admin_env = self.env(user=self.env.ref("base.user_admin"))
        admin_env["res.users.apikeys.description"].check_access_make_key()

        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.coop_restrict_api_key_creation)
        settings.coop_restrict_api_key_creation = False
        settings.execute()
        native.check_access_make_key()  # no longer restricted
        # This addon's own wizard always needs the access.
        with self.assertRaises(AccessError):
            self.env(user=self.plain_user)[
                "coop.api.key.wizard"
            ].check_access_make_key()

    def test_refusals_over_xmlrpc(self):
        db = self.env.cr.dbname
        uid = self.xmlrpc_common.authenticate(db, "coop-plain", "coop-plain", {})

        def call(model, method, *args):
            return self.xmlrpc_object.execute_kw(
                db, uid, "coop-plain", model, method, list(args)
            )

        with self.assertAccessDenied():
            call("res.users", "action_coop_generate_api_key", [uid])
        with self.assertAccessDenied():
            call("coop.buyer", "search_read", [])
        with self.assertAccessDenied():
            call("coop.api.key.wizard", "create", {"name": "x", "duration": "1"})

    def test_removing_the_access_revokes_the_keys(self):
        keys = self.env["res.users.apikeys"].with_user(self.developer)
        keys._generate(None, "Newsletter", in_30_days())
        self.assertEqual(len(self.developer.api_key_ids), 1)
        self.developer.write(
            {"groups_id": [Command.unlink(self.env.ref(GROUP_XMLID).id)]}
        )
        self.assertFalse(self.developer.api_key_ids)
        note = self.developer.partner_id.message_ids[:1]
        self.assertIn("1 API key(s) revoked", note.body)

    def test_removing_the_access_can_keep_the_keys(self):
        self.env["res.users.apikeys"].with_user(self.developer)._generate(
            None, "Newsletter", in_30_days()
        )
        self.developer.write(
            {
                "groups_id": [Command.unlink(self.env.ref(GROUP_XMLID).id)],
                "coop_revoke_on_access_removal": False,
            }
        )
        self.assertEqual(len(self.developer.api_key_ids), 1)
        self.assertIn("kept on request", self.developer.partner_id.message_ids[:1].body)

    def test_api_key_wizards_are_their_creators_own(self):
        other = new_test_user(
            self.env, login="coop-dev-2", groups=f"base.group_user,{GROUP_XMLID}"
        )
        wizard = self.env(user=self.developer)["coop.api.key.wizard"].create(
            {"name": "Mine", "duration": "1"}
        )
        theirs = wizard.with_user(other)
        for attempt in (
            lambda: theirs.read(["name"]),
            lambda: theirs.write({"name": "Stolen"}),
            lambda: theirs.check_access("write"),
        ):
            with self.assertRaises(AccessError):
                attempt()
        self.assertFalse(
            self.env(user=other)["coop.api.key.wizard"].search([("id", "=", wizard.id)])
        )
        self.assertEqual(wizard.with_user(self.developer).name, "Mine")


@tagged("post_install", "-at_install")
class TestEveryPathThatRemovesTheAccess(WebhookCase):
    """However the access goes away, the effect is the user form's: keys
    revoked, webhooks disabled, a note on the contact."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.group = cls.env.ref(GROUP_XMLID)

    def setUp(self):
        super().setUp()
        self.env["res.users.apikeys"].with_user(self.developer)._generate(
            None, "Newsletter", datetime.now() + timedelta(days=30)
        )
        self.webhook = self.endpoint("https://hooks.example.org/x").with_env(self.env)
        self.partner = self.developer.partner_id

    def assertRevoked(self, note="1 API key(s) revoked and webhooks disabled"):
        self.assertFalse(self.developer.with_context(active_test=False).api_key_ids)
        self.assertEqual(self.webhook.state, "disabled")
        self.assertEqual(
            self.webhook.disabled_reason, "Developer settings access removed."
        )
        self.assertIn(note, self.partner.message_ids[0].body)

    def test_removed_from_the_groups_user_list(self):
        self.group.write({"users": [Command.unlink(self.developer.id)]})
        self.assertFalse(self.developer.has_group(GROUP_XMLID))
        self.assertRevoked()

    def test_removed_on_the_user_form(self):
        self.developer.write({"groups_id": [Command.unlink(self.group.id)]})
        self.assertRevoked()

    def test_a_callers_context_never_turns_the_watch_off(self):
        """The watch's context key, sent by a caller (any RPC client can
        send a context), is not the watch's own mark: the removal is seen."""
        self.developer.with_context(coop_watching_developer_access=True).write(
            {"groups_id": [Command.unlink(self.group.id)]}
        )
        self.assertRevoked()

    def test_archived(self):
        self.developer.action_archive()
        self.assertRevoked()

    def test_deleted(self):
        jobs_before = self.env["queue.job"].search([])
        self.webhook.with_user(self.developer).action_send_test_event()
        job = self.env["queue.job"].search([]) - jobs_before
        self.developer.unlink()
        self.assertFalse(self.webhook.exists())
        self.assertEqual(job.state, "cancelled")
        self.assertIn("User deleted", self.partner.message_ids[0].body)
        self.assertIn("1 API key(s) revoked", self.partner.message_ids[0].body)

    def test_implied_group_taken_away_by_a_setting(self):
        """A group that implies the access stops implying it, as the settings'
        implied groups do (res.groups._remove_group): its members lose it."""
        team = self.env["res.groups"].create(
            {"name": "Newsletter team", "implied_ids": [Command.link(self.group.id)]}
        )
        member = new_test_user(self.env, login="coop-team", groups="base.group_user")
        team.write({"users": [Command.link(member.id)]})
        self.assertTrue(member.has_group(GROUP_XMLID))
        member_webhook = self.endpoint(
            "https://hooks.example.org/team", user=member
        ).with_env(self.env)
        team._remove_group(self.group)
        self.assertFalse(member.has_group(GROUP_XMLID))
        self.assertEqual(member_webhook.state, "disabled")
        self.assertIn("webhooks disabled", member.partner_id.message_ids[0].body)
        # Not a member of that group: untouched.
        self.assertEqual(self.webhook.state, "enabled")
        self.assertEqual(len(self.developer.api_key_ids), 1)

    def test_an_implication_removed_leaves_whoever_still_has_the_access(self):
        """Odoo keeps the implied group of a group's members when only the
        implication is removed: those also given the access on their own
        keep it, so nothing of theirs is revoked; those who had it only
        through the group lose it, as when Settings is taken away."""
        team = self.env["res.groups"].create(
            {"name": "Newsletter team 2", "implied_ids": [Command.link(self.group.id)]}
        )
        member = new_test_user(self.env, login="coop-team-2", groups="base.group_user")
        (self.developer | member).write({"groups_id": [Command.link(team.id)]})
        self.assertTrue(member.has_group(GROUP_XMLID))
        self.env["res.users.apikeys"].with_user(member)._generate(
            None, "Newsletter", datetime.now() + timedelta(days=30)
        )
        team.write({"implied_ids": [Command.unlink(self.group.id)]})
        self.assertTrue(self.developer.has_group(GROUP_XMLID))
        self.assertEqual(self.webhook.state, "enabled")
        self.assertEqual(len(self.developer.api_key_ids), 1)
        self.assertFalse(member.has_group(GROUP_XMLID))
        self.assertFalse(member.api_key_ids, "revoked")

    def test_settings_taken_away_takes_the_access_it_implied(self):
        """Odoo keeps the groups a group taken away implied: unticking
        Settings on the user form (its selection field, or groups_id) takes
        the access too, unless it was given on its own (its own field on the
        form, the group's users list, or with the user's groups)."""
        system = self.env.ref("base.group_system")
        fields = self.env["res.users"].fields_get()

        def selection_of(group):
            [name] = [
                name
                for name in fields
                if name.startswith("sel_groups_")
                and str(group.id) in name[len("sel_groups_") :].split("_")
            ]
            return name

        administration, access = selection_of(system), selection_of(self.group)

        def administrator(login, groups="base.group_user,base.group_system"):
            user = new_test_user(self.env, login=login, groups=groups)
            self.assertTrue(user.has_group(GROUP_XMLID))
            self.env["res.users.apikeys"].with_user(user)._generate(
                None, "Newsletter", datetime.now() + timedelta(days=30)
            )
            webhook = self.endpoint(f"https://hooks.example.org/{login}", user=user)
            return user, webhook.with_env(self.env)

        demoted = {
            "selection": administrator("coop-admin-sel"),
            "groups_id": administrator("coop-admin-m2m"),
        }
        kept = {
            "selection": administrator(
                "coop-admin-sel-own", f"base.group_user,base.group_system,{GROUP_XMLID}"
            ),
            "groups_id": administrator("coop-admin-m2m-own"),
            "users list": administrator("coop-admin-list-own"),
        }
        kept["groups_id"][0].write({access: self.group.id})
        self.group.write({"users": [Command.link(kept["users list"][0].id)]})
        for users in (demoted, kept):
            users["selection"][0].write({administration: False})
            users["groups_id"][0].write({"groups_id": [Command.unlink(system.id)]})
        kept["users list"][0].write({administration: False})

        for path, (user, webhook) in demoted.items():
            with self.subTest(demoted=path):
                self.assertFalse(user.has_group("base.group_system"))
                self.assertFalse(user.has_group(GROUP_XMLID))
                self.assertFalse(user.api_key_ids)
                self.assertEqual(webhook.state, "disabled")
                self.assertIn(
                    "1 API key(s) revoked and webhooks disabled",
                    user.partner_id.message_ids[0].body,
                )
        for path, (user, webhook) in kept.items():
            with self.subTest(kept=path):
                self.assertFalse(user.has_group("base.group_system"))
                self.assertTrue(user.has_group(GROUP_XMLID))
                self.assertEqual(len(user.api_key_ids), 1)
                self.assertEqual(webhook.state, "enabled")

    def test_the_upgrade_records_the_access_given_on_its_own(self):
        """Before 18.0.1.2.0 nothing recorded how the access was given: those
        who hold it without Settings were given it on their own."""
        admin = new_test_user(
            self.env, login="coop-admin-old", groups="base.group_user,base.group_system"
        )
        users = self.developer | admin
        users.coop_developer_access_direct = False
        path = Path(__file__).parents[1] / "migrations/18.0.1.2.0/post-migration.py"
        spec = importlib.util.spec_from_file_location("post_migration", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        migration.migrate(self.env.cr, "18.0.1.1.0")
        users.invalidate_recordset()
        self.assertTrue(self.developer.coop_developer_access_direct)
        self.assertFalse(admin.coop_developer_access_direct)
        self.developer.write(
            {"groups_id": [Command.link(self.ref("base.group_system"))]}
        )
        self.developer.write(
            {"groups_id": [Command.unlink(self.ref("base.group_system"))]}
        )
        self.assertTrue(self.developer.has_group(GROUP_XMLID), "given on its own")
        self.assertEqual(self.webhook.state, "enabled")

    def test_kept_on_request_on_the_user_form(self):
        self.developer.write(
            {
                "groups_id": [Command.unlink(self.group.id)],
                "coop_revoke_on_access_removal": False,
            }
        )
        self.assertEqual(len(self.developer.api_key_ids), 1)
        self.assertEqual(self.webhook.state, "enabled")
        self.assertIn("kept on request", self.partner.message_ids[0].body)
