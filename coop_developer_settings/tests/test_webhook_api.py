# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import json
import logging
from contextlib import contextmanager
from datetime import datetime, timedelta

from odoo.tests import HttpCase, tagged
from odoo.tests.common import JsonRpcException

from ..models.coop_webhook_endpoint import MAX_ENDPOINTS_PER_TYPE
from ..models.res_users_apikeys import SCOPE_WEBHOOKS
from ..webhook import schemas
from .common import WEBHOOKS, ApiClientMixin, allow_local_receivers, new_developer

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

    def test_the_catalogue_in_the_best_installed_language(self):
        """Browsers send regional variants: the catalogue answers in the
        closest installed language, else in English, never an error."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["coop_developer_settings"], ["fr_FR"], overwrite=True
        )
        installed = {code for code, _name in self.env["res.lang"].get_installed()}
        self.assertFalse(
            installed & {"fr_BE", "fr_CH", "fr_CA", "nl_BE", "nl_NL", "de_DE", "es_ES"},
            "this test needs French installed as fr_FR only, no Dutch, German "
            "or Spanish",
        )
        french, english = "Cycle de vente ouvert", "Sale cycle opened"
        for accept_language, name in (
            ("fr-BE", french),
            ("fr-CH", french),
            ("fr-CA", french),
            ("fr-BE,fr;q=0.9,en;q=0.8", french),
            ("de-DE,fr-BE;q=0.5", french),
            ("nl-BE", english),
            ("de-DE", english),
            ("es", english),
            ("*", english),
            ("en-GB,fr;q=0.5", english),
        ):
            with self.subTest(accept_language=accept_language):
                response = self.api(
                    "GET",
                    "/coop/api/v1/event-types",
                    headers={"Accept-Language": accept_language},
                )
                self.assertEqual(response.status_code, 200, response.text)
                names = {item["code"]: item["name"] for item in response.json()["data"]}
                self.assertEqual(names["sale_cycle.opened"], name)
                self.assertIn("Accept-Language", response.headers["Vary"])

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

    def test_a_rate_limited_test_event_is_429_with_retry_after(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "coop_developer_settings.webhook_manual_send_interval", "60"
        )
        hook = self.subscribe().json()
        path = f"{WEBHOOKS}/{hook['id']}/test"
        self.assertEqual(self.api("POST", path, self.key).status_code, 202)
        refused = self.api("POST", path, self.key)
        message = self.assertApiError(refused, 429, "rate_limited")
        seconds = refused.headers["Retry-After"]
        self.assertIn(int(seconds), range(1, 61))
        self.assertIn(f" {seconds} ", message, "the message says the same wait")
        self.assertEqual(len(self.endpoints().delivery_ids), 1, "nothing queued")

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


@tagged("post_install", "-at_install")
class TestHostileInput(ApiClientMixin, HttpCase):
    """Input that once ended in a 500 (an unhandled exception, a failed
    query logged with the new endpoint's secret): a JSON 4xx over the API,
    a translated error over the tab's RPC, nothing logged as an error."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        allow_local_receivers(cls.env)
        cls.developer = new_developer(cls.env, "coop-hostile", cls.env.company)
        cls.key = (
            cls.env["res.users.apikeys"]
            .with_user(cls.developer)
            ._generate(SCOPE_WEBHOOKS, "Fuzzer", datetime.now() + timedelta(days=1))
        )
        cls.reminder = cls.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_closing_soon"
        )

    @contextmanager
    def server_log(self):
        """Every line the server logs meanwhile, with its tracebacks (but
        the test's own reports)."""
        lines = []
        handler = logging.Handler(logging.DEBUG)
        handler.addFilter(lambda record: not record.name.startswith(__name__))
        handler.emit = lambda record: lines.append(handler.format(record))
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        logging.getLogger().addHandler(handler)
        try:
            yield lines
        finally:
            logging.getLogger().removeHandler(handler)
        log = "\n".join(lines)
        self.assertNotIn("whsec_", log, "no secret in the log")
        self.assertNotIn("Traceback", log)
        self.assertNotIn("bad query", log)

    def endpoints(self):
        return self.env["coop.webhook.endpoint"].search(
            [("user_id", "=", self.developer.id)]
        )

    def post_raw(self, data, headers=None):
        return self.opener.post(
            self.base_url() + WEBHOOKS,
            data=data,
            headers={
                "Authorization": f"Bearer {self.key}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
            timeout=60,
        )

    def test_a_key_that_is_not_text(self):
        with self.server_log():
            for token in ("a\x00b", "a\x01b", "é" * 40):
                with self.subTest(token=token):
                    response = self.opener.get(
                        self.base_url() + WEBHOOKS,
                        headers={"Authorization": f"Bearer {token}".encode()},
                        timeout=30,
                    )
                    self.assertApiError(response, 401, "invalid_api_key")

    def test_json_nested_too_deep(self):
        with self.server_log():
            for depth in (100_000, 5_000):
                with self.subTest(depth=depth):
                    body = ('{"a":' * depth + "1" + "}" * depth).encode()
                    self.assertApiError(self.post_raw(body), 400, "invalid_json")

    def test_lead_times_beyond_postgresqls_integers(self):
        with self.server_log():
            for hours in (2**31, 2**63, 2**70, -(2**31) - 1, -(2**63), -(2**70)):
                with self.subTest(hours=hours):
                    response = self.api(
                        "POST",
                        WEBHOOKS,
                        self.key,
                        {
                            "event_type": self.reminder.code,
                            "url": HOOK_URL,
                            "lead_time_hours": hours,
                        },
                    )
                    message = self.assertApiError(response, 422, "validation_error")
                    self.assertIn(str(schemas.MAX_LEAD_TIME_HOURS), message)
        self.assertFalse(self.endpoints())

    def test_text_that_postgresql_cannot_store(self):
        with self.server_log():
            for field, value in (
                ("event_type", "\ud800"),
                ("event_type", "sale_cycle.opened\x00"),
                ("url", "https://hooks.example.org/\ud800"),
                ("url", "https://hooks.example.org/\x00"),
            ):
                with self.subTest(field=field, value=value):
                    body = {"event_type": "sale_cycle.opened", "url": HOOK_URL}
                    body[field] = value
                    self.assertApiError(
                        self.post_raw(json.dumps(body).encode()), 400, "invalid_json"
                    )
        self.assertFalse(self.endpoints())

    def test_the_tabs_calls_with_values_of_the_wrong_kind(self):
        self.authenticate(self.developer.login, self.developer.login)
        endpoint = (
            self.env["coop.webhook.endpoint"]
            .with_user(self.developer)
            .create({"event_type_id": self.reminder.id, "url": HOOK_URL})
        )

        def call(method, args, kwargs=None):
            return self.make_jsonrpc_request(
                f"/web/dataset/call_kw/coop.webhook.endpoint/{method}",
                {
                    "model": "coop.webhook.endpoint",
                    "method": method,
                    "args": args,
                    "kwargs": kwargs or {},
                },
            )

        opened = self.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_opened"
        ).id
        with self.server_log():
            for args, error in (
                ([opened, 123], "ValidationError"),
                ([opened, ["https://hooks.example.org/x"]], "ValidationError"),
                ([opened, "https://hooks.example.org/\ud800"], "ValidationError"),
                (["abc", HOOK_URL], "ValidationError"),
                ([2**70, HOOK_URL], "ValidationError"),
                ([None, HOOK_URL], "ValidationError"),
                ([opened, HOOK_URL, "abc"], "AccessError"),  # not an administrator
            ):
                with (
                    self.subTest(method="coop_tab_create", args=args),
                    self.assertRaisesRegex(JsonRpcException, error),
                ):
                    call("coop_tab_create", args)
            for limit in (-1, 0, 2**70, "abc", 1.5):
                with (
                    self.subTest(method="coop_tab_deliveries", limit=limit),
                    self.assertRaisesRegex(JsonRpcException, "UserError"),
                ):
                    call("coop_tab_deliveries", [endpoint.ids], {"limit": limit})
            for hours in (2**31, -(2**63), "abc"):
                with (
                    self.subTest(method="write", hours=hours),
                    self.assertRaisesRegex(JsonRpcException, "ValidationError"),
                ):
                    call("write", [endpoint.ids, {"lead_time_hours": hours}])
        self.assertEqual(self.endpoints(), endpoint, "nothing half-written")
        self.assertEqual(call("coop_tab_deliveries", [endpoint.ids]), [])
