# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import json

import jsonschema
import requests
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from odoo.tests import HttpCase, tagged

from ..webhook import schemas
from .common import ApiClientMixin, WebhookCase
from .receiver import Receiver, payload_errors

OPENAPI = "/coop/api/v1/openapi.json"


@tagged("post_install", "-at_install")
class TestOpenApiDocument(ApiClientMixin, HttpCase):
    """GET /coop/api/v1/openapi.json: a valid OpenAPI 3.1 document of every
    route and of every event."""

    def test_the_served_document_is_valid_openapi_3_1(self):
        response = self.api("GET", OPENAPI, headers={"Accept-Language": "fr-FR"})
        document = response.json()
        self.assertEqual(document["openapi"], "3.1.0")
        validate(document)  # raises on any error
        self.assertEqual(document["servers"], [{"url": "/"}])

    def test_the_server_url_is_relative_whatever_the_host(self):
        """A forged Host header does not make the document send the tools'
        keys elsewhere (its server is relative: where it was fetched from),
        and no shared cache keeps it."""
        for host in ("evil.example", f"127.0.0.1:{self.http_port()}"):
            with self.subTest(host=host):
                response = self.opener.get(
                    self.base_url() + OPENAPI, headers={"Host": host}, timeout=30
                )
                self.assertEqual(response.status_code, 200, response.text)
                self.assertEqual(response.json()["servers"], [{"url": "/"}])
                cache_control = response.headers["Cache-Control"]
                self.assertIn("private", cache_control)
                self.assertIn("no-cache", cache_control)
                self.assertIn("Host", response.headers["Vary"])

    def test_the_validator_catches_a_broken_document(self):
        document = self.api("GET", OPENAPI).json()
        del document["paths"]["/coop/api/v1/webhooks"]["get"]["responses"]["200"][
            "description"
        ]
        with self.assertRaises(OpenAPIValidationError):
            validate(document)

    def test_every_route_and_every_event_is_documented(self):
        document = self.api("GET", OPENAPI).json()
        routes = {
            rule.rule.replace("<int:endpoint_id>", "{id}")
            for rule in self.env["ir.http"].routing_map().iter_rules()
            if rule.rule.startswith(schemas.PREFIX) and "<path:" not in rule.rule
        }
        self.assertEqual(routes, set(document["paths"]))
        codes = self.env["coop.webhook.event.type"].search([]).mapped("code")
        self.assertEqual(set(document["webhooks"]), set(codes))
        components = document["components"]["schemas"]
        for code in set(codes) - {schemas.TEST_EVENT}:
            component = document["webhooks"][code]["post"]["requestBody"]["content"][
                "application/json"
            ]["schema"]["$ref"].rsplit("/", 1)[1]
            self.assertEqual(
                components[component],
                json.loads(json.dumps(schemas.envelope_schema(code))),
            )
            # A tagged union: the type tells a generated client which one.
            self.assertEqual(
                components["Event"]["discriminator"]["mapping"][code],
                f"#/components/schemas/{component}",
            )
            self.assertEqual(
                components[f"TestData_{component[6:]}"],
                json.loads(json.dumps(schemas.sample_schema(code))),
            )
        test_data = components["Event_webhook_test"]["properties"]["data"]
        self.assertEqual(test_data["discriminator"]["propertyName"], "sample_of")


@tagged("post_install", "-at_install")
class TestPayloadSchemas(WebhookCase):
    """The receiver of the delivery tests checks every payload against its
    event's schema: the check itself, on real events."""

    def test_real_payloads_of_every_event_type_match_their_schema(self):
        cycle = self.create_cycle(state="closed")
        for event_type in ("sale_cycle.opened", "sale_cycle.closed"):
            event = self.cycle_events(cycle, event_type)
            self.assertEqual(payload_errors(event._body()), [], event_type)
        for event_type in ("sale_cycle.opening_soon", "sale_cycle.closing_soon"):
            data = cycle._webhook_data(event_type, cycle.date_open)
            body = json.dumps(
                {
                    "id": "evt_" + "0" * 32,
                    "type": event_type,
                    "timestamp": "2026-03-02T08:00:00Z",
                    "data": data,
                }
            ).encode()
            self.assertEqual(payload_errors(body), [], event_type)

    def test_a_test_event_says_which_event_it_samples(self):
        self.create_cycle(state="open")
        codes = ("sale_cycle.opening_soon", "sale_cycle.closing_soon")
        codes += ("sale_cycle.opened", "sale_cycle.closed")
        for code in codes:
            event_type = self.env["coop.webhook.event.type"].search(
                [("code", "=", code)]
            )
            endpoint = self.endpoint(f"https://hooks.example.org/{code}", event_type)
            event = endpoint._send_test_event().event_id
            payload = json.loads(event._body())
            self.assertEqual(payload_errors(event._body()), [], code)
            self.assertEqual(payload["data"]["sample_of"], code)
            # Shaped as that event's data, and as no other's.
            for other in codes:
                matches = jsonschema.Draft202012Validator(
                    schemas.sample_schema(other)
                ).is_valid(payload["data"])
                self.assertEqual(matches, other == code, (code, other))

    def test_a_payload_off_its_schema_is_caught(self):
        cycle = self.create_cycle(state="open")
        payload = json.loads(self.cycle_events(cycle, "sale_cycle.opened")._body())
        for broken in (
            {**payload, "data": {**payload["data"], "id": "1"}},
            {**payload, "data": {**payload["data"], "surprise": 1}},
            {**payload, "type": "sale_cycle.closed"},
            {**payload, "id": "42"},
        ):
            with self.subTest(broken=broken):
                self.assertTrue(payload_errors(json.dumps(broken).encode()))
        self.assertTrue(payload_errors(b"not json"))

        with self.assertRaisesRegex(AssertionError, "do not match their schema"):
            with Receiver() as receiver:
                requests.post(receiver.url, data=b'{"type": "webhook.test"}', timeout=5)
