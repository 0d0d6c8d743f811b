# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import datetime, timedelta

from odoo import Command
from odoo.tests import HttpCase, tagged

from ..models.res_users import GROUP_XMLID
from ..models.res_users_apikeys import SCOPE_BUYERS, SCOPE_FULL, SCOPE_WEBHOOKS
from .common import ApiClientMixin, new_developer

WEBHOOKS = "/coop/api/v1/webhooks"
BUYERS = "/coop/api/v1/buyers"


@tagged("post_install", "-at_install")
class TestApiScopes(ApiClientMixin, HttpCase):
    """Least privilege: a scoped key opens its own API and nothing else."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.developer = new_developer(cls.env, "coop-scope-dev", cls.env.company)

    def generate(self, scope, expiration=None):
        keys = self.env["res.users.apikeys"].with_user(self.developer)
        if expiration and expiration < datetime.now():
            keys = keys.sudo()  # only sudo may create an already expired key
        return keys._generate(
            scope, "Tool", expiration or datetime.now() + timedelta(days=7)
        )

    def rpc_login(self, key):
        return self.xmlrpc_common.authenticate(
            self.env.cr.dbname, self.developer.login, key, {}
        )

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
        self.assertEqual(self.rpc_login(key), self.developer.id)
        self.assertEqual(self.jsonrpc_login(key), self.developer.id)
        self.assertEqual(self.api("GET", WEBHOOKS, key).status_code, 200)
        self.assertEqual(self.api("GET", BUYERS, key).status_code, 200)

    def test_a_scoped_key_is_refused_by_xmlrpc_and_jsonrpc_login(self):
        for scope in (SCOPE_BUYERS, SCOPE_WEBHOOKS):
            key = self.generate(scope)
            self.assertFalse(self.rpc_login(key), scope)
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
