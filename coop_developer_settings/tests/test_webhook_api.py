# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import datetime, timedelta

from odoo.tests import HttpCase, tagged

from ..models.coop_webhook_endpoint import MAX_ENDPOINTS_PER_TYPE
from ..models.res_users_apikeys import SCOPE_WEBHOOKS
from ..webhook import schemas
from .common import ApiClientMixin, allow_local_receivers, new_developer

WEBHOOKS = "/coop/api/v1/webhooks"
HOOK_URL = "http://127.0.0.1:9/hook"


@tagged("post_install", "-at_install")
class TestWebhookApi(ApiClientMixin, HttpCase):
    """Subscriptions over HTTP, as an integration platform makes them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        allow_local_receivers(cls.env)
        cls.env["ir.config_parameter"].sudo().set_param(
            "coop_developer_settings.webhook_manual_send_interval", "0"
        )
        cls.developer = new_developer(cls.env, "coop-hooks-api", cls.env.company)
        cls.other = new_developer(cls.env, "coop-hooks-other", cls.env.company)
        cls.key = cls.key_of(cls.developer)

    @classmethod
    def key_of(cls, user, scope=SCOPE_WEBHOOKS):
        return (
            cls.env["res.users.apikeys"]
            .with_user(user)
            ._generate(scope, "Zapier", datetime.now() + timedelta(days=1))
        )

    def subscribe(self, key=None, **body):
        body = {"event_type": "sale_cycle.opened", "url": HOOK_URL, **body}
        return self.api("POST", WEBHOOKS, key or self.key, body)

    def endpoints(self, user=None):
        return self.env["coop.webhook.endpoint"].search(
            [("user_id", "=", (user or self.developer).id)]
        )

    def test_subscribe_list_and_unsubscribe(self):
        self.assertEqual(self.api("GET", WEBHOOKS, self.key).json(), {"data": []})

        created = self.subscribe()
        self.assertEqual(created.status_code, 201, created.text)
        hook = created.json()
        endpoint = self.endpoints()
        self.assertEqual(hook["id"], endpoint.id)
        self.assertEqual(hook["secret"], endpoint._secret())
        self.assertTrue(hook["secret"].startswith("whsec_"))
        self.assertEqual(
            (hook["event_type"], hook["url"], hook["state"], hook["lead_time_hours"]),
            ("sale_cycle.opened", HOOK_URL, "enabled", None),
        )
        # In the Developer settings tab, as if made there.
        self.assertEqual(self.developer.coop_webhook_endpoint_ids, endpoint)

        listed = self.api("GET", WEBHOOKS, self.key).json()["data"]
        self.assertEqual([item["id"] for item in listed], [endpoint.id])
        self.assertNotIn("secret", listed[0], "the secret is shown once")
        self.assertNotIn(endpoint._secret(), str(listed))

        deleted = self.api("DELETE", f"{WEBHOOKS}/{endpoint.id}", self.key)
        self.assertEqual(deleted.status_code, 204)
        self.assertFalse(endpoint.exists())
        self.assertApiError(
            self.api("DELETE", f"{WEBHOOKS}/{endpoint.id}", self.key), 404, "not_found"
        )

    def test_reminders_take_a_lead_time(self):
        hook = self.subscribe(
            event_type="sale_cycle.closing_soon", lead_time_hours=6
        ).json()
        self.assertEqual(hook["lead_time_hours"], 6)
        self.assertEqual(self.endpoints().lead_time_hours, 6)
        message = self.assertApiError(
            self.subscribe(event_type="sale_cycle.closing_soon", lead_time_hours=0),
            422,
            "validation_error",
        )
        self.assertIn("1 to 168 hours", message)
        self.assertApiError(self.subscribe(lead_time_hours=6), 422, "validation_error")

    def test_the_tab_validation_applies_and_writes_nothing(self):
        for body, status, code in (
            ({"url": "https://192.168.1.1/hook"}, 422, "validation_error"),
            ({"url": "ftp://example.org/"}, 422, "validation_error"),
            ({"url": ""}, 422, "validation_error"),
            ({"event_type": "webhook.test"}, 422, "validation_error"),
            ({"event_type": "sale_cycle.nope"}, 422, "validation_error"),
            ({"url": 42}, 400, "invalid_request"),
            ({"secret": "mine"}, 400, "invalid_request"),
            (
                {"lead_time_hours": "6", "event_type": "sale_cycle.opening_soon"},
                400,
                "invalid_request",
            ),
        ):
            with self.subTest(body=body):
                self.assertApiError(self.subscribe(**body), status, code)
        for raw in (b"not json", b"[1, 2]", b""):
            with self.subTest(raw=raw):
                response = self.api(
                    "POST",
                    WEBHOOKS,
                    self.key,
                    raw=raw,
                    headers={"Content-Type": "application/json"},
                )
                self.assertApiError(response, 400, "invalid_json")
        self.assertFalse(self.endpoints())

    def test_the_cap_per_event_type(self):
        for _index in range(MAX_ENDPOINTS_PER_TYPE):
            self.assertEqual(self.subscribe().status_code, 201)
        message = self.assertApiError(self.subscribe(), 422, "validation_error")
        self.assertIn(str(MAX_ENDPOINTS_PER_TYPE), message)
        self.assertEqual(len(self.endpoints()), MAX_ENDPOINTS_PER_TYPE)

    def test_messages_in_the_key_users_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["coop_developer_settings"], ["fr_FR"], overwrite=True
        )
        self.developer.lang = "fr_FR"
        message = self.assertApiError(
            self.subscribe(url="https://10.0.0.1/hook"), 422, "validation_error"
        )
        self.assertIn("adresse privée", message)

    def test_others_webhooks_are_as_missing(self):
        theirs = self.subscribe(self.key_of(self.other)).json()["id"]
        self.assertEqual(self.api("GET", WEBHOOKS, self.key).json(), {"data": []})
        for method, path in (
            ("DELETE", f"{WEBHOOKS}/{theirs}"),
            ("POST", f"{WEBHOOKS}/{theirs}/test"),
            ("DELETE", f"{WEBHOOKS}/{2**31 - 1}"),
        ):
            with self.subTest(method=method, path=path):
                self.assertApiError(self.api(method, path, self.key), 404, "not_found")
        self.assertTrue(self.endpoints(self.other))

    def test_out_of_range_ids_are_missing(self):
        response = self.opener.delete(
            self.base_url() + f"{WEBHOOKS}/{2**63}",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )
        self.assertEqual(response.status_code, 404)

    def test_send_the_test_event(self):
        hook = self.subscribe().json()
        response = self.api("POST", f"{WEBHOOKS}/{hook['id']}/test", self.key)
        self.assertEqual(response.status_code, 202, response.text)
        delivery = self.endpoints().delivery_ids
        self.assertEqual(delivery.event_type, "webhook.test")
        self.assertEqual(delivery.event_id.public_id, response.json()["event_id"])

    def test_other_methods_are_not_allowed(self):
        for method, path in (
            ("PUT", WEBHOOKS),
            ("GET", f"{WEBHOOKS}/1"),
            ("GET", f"{WEBHOOKS}/1/test"),
        ):
            with self.subTest(method=method, path=path):
                response = self.opener.request(
                    method,
                    self.base_url() + path,
                    headers={"Authorization": f"Bearer {self.key}"},
                    timeout=30,
                )
                self.assertEqual(response.status_code, 405)
                self.assertEqual(response.json()["error"], "method_not_allowed")
                self.assertIn("OPTIONS", response.headers["Allow"])

    def test_event_types_list_the_catalogue_with_schemas(self):
        response = self.api("GET", "/coop/api/v1/event-types")
        types = {item["code"]: item for item in response.json()["data"]}
        catalogue = self.env["coop.webhook.event.type"].search([])
        self.assertEqual(set(types), set(catalogue.mapped("code")))
        for code, item in types.items():
            self.assertEqual(item["data_schema"], schemas.data_schema(code))
        self.assertTrue(types["sale_cycle.closing_soon"]["has_lead_time"])
        self.assertFalse(types["webhook.test"]["subscribable"])
