# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import datetime, timedelta

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import XmlrpcAssertionsMixin

GROUP_XMLID = "coop_developer_settings.group_developer_settings"
RESTRICT_PARAM = "coop_developer_settings.restrict_api_key_creation"


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
