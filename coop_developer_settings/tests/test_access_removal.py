# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import datetime, timedelta

from odoo import Command
from odoo.tests import new_test_user, tagged

from .common import WebhookCase

GROUP_XMLID = "coop_developer_settings.group_developer_settings"


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
        implication is removed: they still have the access, so nothing is
        revoked (the effect follows has_group, whatever the path)."""
        team = self.env["res.groups"].create(
            {"name": "Newsletter team 2", "implied_ids": [Command.link(self.group.id)]}
        )
        self.developer.write({"groups_id": [Command.link(team.id)]})
        team.write({"implied_ids": [Command.unlink(self.group.id)]})
        self.assertTrue(self.developer.has_group(GROUP_XMLID))
        self.assertEqual(self.webhook.state, "enabled")
        self.assertEqual(len(self.developer.api_key_ids), 1)

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
