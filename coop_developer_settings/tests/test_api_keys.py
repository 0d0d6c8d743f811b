# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""API keys and their scopes: generated from the tab, logging in over
XML-RPC and JSON-RPC until revoked or expired, capped per user, *last used*
stamped; a scoped key opens only its API."""

from datetime import datetime, timedelta

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import HttpCase, new_test_user, tagged

from ..models.res_users import GROUP_XMLID
from ..models.res_users_apikeys import (
    MAX_API_KEYS_PER_USER,
    SCOPE_BUYERS,
    SCOPE_FULL,
    SCOPE_WEBHOOKS,
)
from .common import BUYERS, WEBHOOKS, ApiClientMixin, new_developer


class DeveloperKeysMixin:
    """Keys of ``self.developer``, generated as the tab does, and the
    XML-RPC login with one."""

    def generate(self, scope=None, expiration=None, name="Newsletter"):
        keys = self.env["res.users.apikeys"].with_user(self.developer)
        if expiration is not None and expiration < datetime.now():
            keys = keys.sudo()  # only sudo may create an already expired key
        return keys._generate(
            scope, name, expiration or datetime.now() + timedelta(days=7)
        )

    def xmlrpc_login(self, key):
        return self.xmlrpc_common.authenticate(
            self.env.cr.dbname, self.developer.login, key, {}
        )


@tagged("post_install", "-at_install")
class TestApiKeys(DeveloperKeysMixin, HttpCase):
    """Odoo's native keys, as the Developer settings tab hands them out."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.developer = new_test_user(
            cls.env, login="coop-key-user", groups=f"base.group_user,{GROUP_XMLID}"
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


@tagged("post_install", "-at_install")
class TestApiScopes(DeveloperKeysMixin, ApiClientMixin, HttpCase):
    """Least privilege: a scoped key opens its own API and nothing else."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.developer = new_developer(cls.env, "coop-scope-dev", cls.env.company)

    def jsonrpc_login(self, key):
        response = self.opener.post(
            self.base_url() + "/jsonrpc",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {
                    "service": "common",
                    "method": "login",
                    "args": [self.env.cr.dbname, self.developer.login, key],
                },
            },
            timeout=30,
        )
        return response.json()["result"]

    def test_the_wizard_generates_the_chosen_scope_and_the_tab_shows_it(self):
        for scope, stored, label in (
            (SCOPE_FULL, False, "Full account"),
            (SCOPE_BUYERS, SCOPE_BUYERS, "Read the buyer list"),
            (SCOPE_WEBHOOKS, SCOPE_WEBHOOKS, "Manage my webhooks"),
        ):
            wizard = (
                self.env["coop.api.key.wizard"]
                .with_user(self.developer)
                .create({"name": label, "duration": "7", "coop_scope": scope})
            )
            # make_key asks for the password first (check_identity): past it.
            action = type(wizard).make_key.__wrapped__(wizard)
            key = self.developer.api_key_ids.filtered(lambda k, n=label: k.name == n)
            self.assertEqual(key.scope, stored)
            self.assertEqual(key.with_user(self.developer).coop_access, label)
            self.assertEqual(action["context"]["default_coop_scope"], scope)
            self.assertEqual(
                self.env["res.users.apikeys"]._check_credentials(
                    scope=scope if scope != SCOPE_FULL else "rpc",
                    key=action["context"]["default_key"],
                ),
                self.developer.id,
            )

    def test_a_full_account_key_opens_rpc_and_every_api(self):
        key = self.generate(None)
        self.assertEqual(self.xmlrpc_login(key), self.developer.id)
        self.assertEqual(self.jsonrpc_login(key), self.developer.id)
        self.assertEqual(self.api("GET", WEBHOOKS, key).status_code, 200)
        self.assertEqual(self.api("GET", BUYERS, key).status_code, 200)

    def test_a_scoped_key_is_refused_by_xmlrpc_and_jsonrpc_login(self):
        for scope in (SCOPE_BUYERS, SCOPE_WEBHOOKS):
            key = self.generate(scope)
            self.assertFalse(self.xmlrpc_login(key), scope)
            self.assertFalse(self.jsonrpc_login(key), scope)

    def test_a_scoped_key_is_refused_by_odoo_bearer_routes(self):
        # Odoo's own routes with auth="bearer" ask for the scope "rpc".
        for scope in (SCOPE_BUYERS, SCOPE_WEBHOOKS):
            key = self.generate(scope)
            response = self.opener.get(
                self.base_url() + "/json/1/res.users",
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            self.assertEqual(response.status_code, 401, scope)

    def test_webhooks_key_opens_the_webhooks_api_only(self):
        key = self.generate(SCOPE_WEBHOOKS)
        self.assertEqual(self.api("GET", WEBHOOKS, key).status_code, 200)
        self.assertApiError(self.api("GET", BUYERS, key), 403, "insufficient_scope")

    def test_buyers_key_opens_the_buyer_list_only(self):
        key = self.generate(SCOPE_BUYERS)
        self.assertEqual(self.api("GET", BUYERS, key).status_code, 200)
        message = self.assertApiError(
            self.api("GET", WEBHOOKS, key), 403, "insufficient_scope"
        )
        self.assertIn("another API", message)
        created = self.api(
            "POST", WEBHOOKS, key, {"event_type": "sale_cycle.opened", "url": "x"}
        )
        self.assertApiError(created, 403, "insufficient_scope")

    def test_revoked_and_expired_scoped_keys_are_refused(self):
        key = self.generate(SCOPE_WEBHOOKS)
        self.developer.api_key_ids.with_user(self.developer)._remove()
        response = self.api("GET", WEBHOOKS, key)
        self.assertApiError(response, 401, "invalid_api_key")
        self.assertEqual(response.headers["WWW-Authenticate"], "Bearer")

        # Expired for PostgreSQL, whose now() is when the test's transaction
        # began (a minute may have gone by since, on a busy machine).
        expired = self.generate(SCOPE_BUYERS, self.env.cr.now() - timedelta(minutes=1))
        self.assertApiError(self.api("GET", BUYERS, expired), 401, "invalid_api_key")

    def test_no_key_or_a_wrong_one_is_refused(self):
        self.assertApiError(self.api("GET", WEBHOOKS), 401, "invalid_api_key")
        self.assertApiError(self.api("GET", WEBHOOKS, "0" * 40), 401, "invalid_api_key")
        response = self.api(
            "GET", WEBHOOKS, headers={"Authorization": "Basic Zm9vOmJhcg=="}
        )
        self.assertApiError(response, 401, "invalid_api_key")

    def test_the_access_is_checked_at_each_call(self):
        key = self.generate(SCOPE_WEBHOOKS)
        group = self.env.ref("coop_developer_settings.group_developer_settings")
        # Keys kept on removal of the access (else revoked): the access
        # itself is checked.
        self.developer.write(
            {
                "groups_id": [Command.unlink(group.id)],
                "coop_revoke_on_access_removal": False,
            }
        )
        self.assertTrue(self.developer.api_key_ids)
        self.assertApiError(self.api("GET", WEBHOOKS, key), 403, "forbidden")

    def test_last_used_is_stamped_by_a_scoped_key(self):
        key = self.generate(SCOPE_WEBHOOKS)
        self.api("GET", WEBHOOKS, key)
        self.env.invalidate_all()
        self.assertTrue(self.developer.api_key_ids.last_used)

    def test_a_call_refused_for_the_scope_never_stamps_last_used(self):
        key = self.generate(SCOPE_BUYERS)
        self.assertApiError(self.api("GET", WEBHOOKS, key), 403, "insufficient_scope")
        self.env.invalidate_all()
        self.assertFalse(self.developer.api_key_ids.last_used)
        self.api("GET", BUYERS, key)
        self.env.invalidate_all()
        self.assertTrue(self.developer.api_key_ids.last_used)

    def test_a_call_refused_for_the_access_never_stamps_last_used(self):
        key = self.generate(None)
        self.developer.write(
            {
                "groups_id": [Command.unlink(self.env.ref(GROUP_XMLID).id)],
                "coop_revoke_on_access_removal": False,
            }
        )
        self.assertApiError(self.api("GET", WEBHOOKS, key), 403, "forbidden")
        self.env.invalidate_all()
        self.assertFalse(self.developer.api_key_ids.last_used)
