# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import datetime, timedelta

from odoo.exceptions import UserError
from odoo.tests import HttpCase, new_test_user, tagged

from ..models.res_users_apikeys import MAX_API_KEYS_PER_USER, SCOPE_WEBHOOKS

GROUP_XMLID = "coop_developer_settings.group_developer_settings"


@tagged("post_install", "-at_install")
class TestApiKeys(HttpCase):
    """Odoo's native keys, as the Developer settings tab hands them out."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.developer = new_test_user(
            cls.env, login="coop-key-user", groups=f"base.group_user,{GROUP_XMLID}"
        )

    def generate(self, expiration=None, name="Newsletter"):
        keys = self.env["res.users.apikeys"].with_user(self.developer)
        if expiration is not None and expiration < datetime.now():
            keys = keys.sudo()  # only sudo may create an already expired key
        return keys._generate(
            None, name, expiration or datetime.now() + timedelta(days=7)
        )

    def xmlrpc_login(self, key):
        return self.xmlrpc_common.authenticate(
            self.env.cr.dbname, "coop-key-user", key, {}
        )

    def test_key_logs_in_over_xmlrpc_until_revoked(self):
        key = self.generate()
        self.assertRegex(key, r"^[0-9a-f]{40}$")
        stored = self.developer.api_key_ids
        self.assertEqual(stored.scope, False, "a global key: RPC login refuses scopes")
        self.assertNotIn(key, str(stored.read()), "the key itself is never stored")
        uid = self.xmlrpc_login(key)
        self.assertEqual(uid, self.developer.id)
        rows = self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            uid,
            key,
            "coop.buyer",
            "search_read",
            [[]],
            {"limit": 1},
        )
        self.assertIsInstance(rows, list)
        stored.with_user(self.developer)._remove()
        self.assertFalse(self.xmlrpc_login(key), "a revoked key is refused")

    def test_keys_per_user_are_capped_on_every_path(self):
        """Odoo's own key wizard and the tab's both end in _generate: the cap
        holds whichever made the keys; an expired or revoked key frees a
        place."""
        self.generate(expiration=datetime.now() - timedelta(minutes=1))
        for index in range(MAX_API_KEYS_PER_USER - 1):
            self.generate(name=f"Tool {index}")
        wizard = (
            self.env["coop.api.key.wizard"]
            .with_user(self.developer)
            .create({"name": "Last", "duration": "7", "coop_scope": SCOPE_WEBHOOKS})
        )
        type(wizard).make_key.__wrapped__(wizard)  # past the password check
        keys = self.developer.api_key_ids
        self.assertEqual(len(keys), MAX_API_KEYS_PER_USER + 1)  # with the expired
        odoo_wizard = (
            self.env["res.users.apikeys.description"]
            .with_user(self.developer)
            .create({"name": "One more", "duration": "7"})
        )
        for attempt in (
            lambda: self.generate(name="One more"),
            lambda: type(odoo_wizard).make_key.__wrapped__(odoo_wizard),
            lambda: type(wizard).make_key.__wrapped__(
                self.env["coop.api.key.wizard"]
                .with_user(self.developer)
                .create({"name": "One more", "duration": "7"})
            ),
        ):
            with self.assertRaisesRegex(UserError, "revoke those no tool uses"):
                attempt()
        self.assertEqual(self.developer.api_key_ids, keys, "nothing made")
        keys.filtered(lambda key: key.name == "Tool 0").with_user(
            self.developer
        )._remove()
        self.assertTrue(self.generate(name="In its place"))

    def test_expired_key_is_refused(self):
        # Expired for PostgreSQL, whose now() is when the test's transaction
        # began (a minute may have gone by since, on a busy machine).
        key = self.generate(expiration=self.env.cr.now() - timedelta(minutes=1))
        self.assertFalse(self.xmlrpc_login(key))
        self.assertFalse(
            self.env["res.users.apikeys"]._check_credentials(scope="rpc", key=key)
        )

    def test_last_used_is_recorded_at_most_once_a_minute(self):
        key = self.generate()
        stored = self.developer.api_key_ids
        self.assertFalse(stored.last_used)
        check = self.env["res.users.apikeys"]._check_credentials
        self.assertEqual(check(scope="rpc", key=key), self.developer.id)
        self.env.invalidate_all()
        first = stored.last_used
        self.assertTrue(first)
        usage = self.env["coop.api.key.usage"].search([("key_id", "=", stored.id)])

        # Within the minute: a read, no write.
        self.env.cr.execute(
            "UPDATE coop_api_key_usage"
            " SET last_used = last_used - interval '30 seconds'"
            " WHERE id = %s RETURNING last_used",
            [usage.id],
        )
        half_a_minute_ago = self.env.cr.fetchone()[0]
        check(scope="rpc", key=key)
        self.env.invalidate_all()
        self.assertEqual(stored.last_used, half_a_minute_ago)

        # Past the minute: stamped again.
        self.env.cr.execute(
            "UPDATE coop_api_key_usage SET last_used = last_used - interval '2 minutes'"
            " WHERE id = %s",
            [usage.id],
        )
        check(scope="rpc", key=key)
        self.env.invalidate_all()
        self.assertEqual(stored.last_used, first)

    def test_a_failing_stamp_never_breaks_the_login(self):
        key = self.generate()
        # Every write to the usage table now fails.
        self.env.cr.execute(
            "ALTER TABLE coop_api_key_usage ADD CONSTRAINT coop_test_refuse"
            " CHECK (false) NOT VALID"
        )
        with self.assertLogs(
            "odoo.addons.coop_developer_settings.models.coop_api_key_usage", "WARNING"
        ) as logs:
            self.assertEqual(self.xmlrpc_login(key), self.developer.id)
        self.assertIn("not recorded", logs.output[0])
        self.assertNotIn(key, logs.output[0], "a key never reaches the logs")
        self.assertFalse(self.developer.api_key_ids.last_used)
