# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged

GROUP_XMLID = "coop_developer_settings.group_developer_settings"


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
