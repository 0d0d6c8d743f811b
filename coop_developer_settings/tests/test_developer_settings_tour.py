# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo.tests import HttpCase, new_test_user, tagged

GROUP_XMLID = "coop_developer_settings.group_developer_settings"


@tagged("post_install", "-at_install")
class TestDeveloperSettingsTour(HttpCase):
    def test_generate_a_key_from_the_tab(self):
        user = new_test_user(
            self.env, login="coop-dev-tour", groups=f"base.group_user,{GROUP_XMLID}"
        )
        self.start_tour("/odoo", "coop_developer_settings_api_key", login=user.login)
        key = user.api_key_ids
        self.assertEqual(key.name, "Brevo newsletter")
        self.assertFalse(key.scope)
