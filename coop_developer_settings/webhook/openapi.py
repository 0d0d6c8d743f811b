"""The OpenAPI 3.1 document of the API (GET /coop/api/v1/openapi.json),
gathered from the contract's schemas (schemas.py).

Plain Python (no Odoo).
"""

import copy

from .schemas import (
    API_VERSION,
    BUYER,
    BUYER_PAGE,
    BUYER_PARAMETERS,
    DATABASE_HEADER,
    ERROR,
    EVENT_DATA,
    EVENT_TYPE,
    MAX_ID,
    OPENAPI_VERSION,
    PREFIX,
    REMOVED_BUYER,
    SALE_CYCLE_ITEM,
    SALE_CYCLE_PAGE,
    SALE_CYCLE_PARAMETERS,
    SAMPLE_OF,
    TEST_EVENT,
    TEST_SENT,
    WEBHOOK,
    WEBHOOK_CREATE,
    WEBHOOK_CREATED,
    envelope_schema,
    sample_schema,
)


def _list_of(name):
    return {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"type": "array", "items": _ref(name)}},
        "additionalProperties": False,
    }


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name, description):
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref(name)}},
    }


RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def _errors(*statuses):
    """The documented error answers: those given, and the database's (400
    without one on a server that has several, 404 for an unknown one)."""
    statuses = sorted({400, 404, *statuses})
    texts = {
        400: "Bad request (e.g. not a JSON object, or a database to name).",
        401: "Missing, unknown, revoked or expired API key.",
        403: "The key's scope or its user's access does not allow this.",
        404: "No such webhook, sale cycle or database (X-Odoo-Database).",
        422: "Refused by the validation (URL, event type, lead time, cap).",
        429: "Too many manual sends to this webhook: retry after the "
        "Retry-After header's seconds.",
    }
    answers = {str(status): _json("Error", texts[status]) for status in statuses}
    if 429 in statuses:
        answers["429"]["headers"] = {"Retry-After": RETRY_AFTER}
    return answers


def _operation(summary, responses, scopes=None, **extra):
    parameters = extra.pop("parameters", [])
    operation = {
        "summary": summary,
        "parameters": [*parameters, {"$ref": "#/components/parameters/Database"}],
        "responses": responses,
        **extra,
    }
    if scopes:
        operation["security"] = [{"apiKey": []}]
        operation["description"] = (
            extra.get("description", "")
            + " API keys: full account, or "
            + " or ".join(f"*{scope}*" for scope in scopes)
            + "."
        ).strip()
    else:
        operation["security"] = []
    return operation


def _component(kind, event_type):
    return f"{kind}_{event_type.replace('.', '_')}"


def _tagged_union(property_name, components):
    """One of the components (by tag value), told apart by property_name."""
    return {
        "oneOf": [_ref(component) for component in components.values()],
        "discriminator": {
            "propertyName": property_name,
            "mapping": {
                tag: f"#/components/schemas/{component}"
                for tag, component in components.items()
            },
        },
    }


def _endpoint_id():
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }


def openapi_document(event_types):
    """The OpenAPI 3.1 document of the API and of its webhooks.

    event_types: (code, name, description, subscribable) of every event
    type, in the catalogue's order.
    """
    create = copy.deepcopy(WEBHOOK_CREATE)
    create["properties"]["event_type"]["enum"] = [
        code for code, _name, _description, subscribable in event_types if subscribable
    ]
    webhooks_scope = ("Manage my webhooks",)
    paths = {
        f"{PREFIX}/buyers": {
            "get": _operation(
                "The buyer list, a page at a time",
                {
                    "200": _json("BuyerPage", "A page of buyers."),
                    **_errors(401, 403),
                },
                ("Read the buyer list",),
                operationId="listBuyers",
                parameters=BUYER_PARAMETERS,
            ),
        },
        f"{PREFIX}/sale-cycles": {
            "get": _operation(
                "The sale cycles of the key user's shops, a page at a time",
                {
                    "200": _json("SaleCyclePage", "A page of sale cycles."),
                    **_errors(401, 403),
                },
                ("Read the buyer list",),
                description="For a tool's \"pick a cycle\" (the buyer list's "
                "cycle_id), in id order.",
                operationId="listSaleCycles",
                parameters=SALE_CYCLE_PARAMETERS,
            ),
        },
        f"{PREFIX}/webhooks": {
            "get": _operation(
                "The key user's webhooks",
                {
                    "200": _json("WebhookList", "The webhooks (never their secret)."),
                    **_errors(401, 403),
                },
                webhooks_scope,
                operationId="listWebhooks",
            ),
            "post": _operation(
                "Subscribe: create a webhook",
                {
                    "201": {
                        **_json(
                            "WebhookCreated", "Created; its signing secret, this once."
                        ),
                        "links": {
                            name: {
                                "operationId": operation,
                                "parameters": {"id": "$response.body#/id"},
                            }
                            for name, operation in (
                                ("delete", "deleteWebhook"),
                                ("test", "testWebhook"),
                            )
                        },
                    },
                    **_errors(401, 403, 422),
                },
                webhooks_scope,
                operationId="createWebhook",
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _ref("WebhookCreate"),
                            "example": {
                                "event_type": "sale_cycle.opened",
                                "url": "https://hooks.example.org/coop",
                            },
                        }
                    },
                },
            ),
        },
        f"{PREFIX}/webhooks/{{id}}": {
            "delete": _operation(
                "Unsubscribe: delete a webhook",
                {"204": {"description": "Deleted."}, **_errors(401, 403)},
                webhooks_scope,
                operationId="deleteWebhook",
                parameters=[_endpoint_id()],
            ),
        },
        f"{PREFIX}/webhooks/{{id}}/test": {
            "post": _operation(
                "Send a test event to a webhook",
                {
                    "202": _json("TestSent", "Queued; its delivery follows."),
                    **_errors(401, 403, 429),
                },
                webhooks_scope,
                operationId="testWebhook",
                parameters=[_endpoint_id()],
            ),
        },
        f"{PREFIX}/event-types": {
            "get": _operation(
                "The event catalogue, with the JSON Schema of each event's data",
                {"200": _json("EventTypeList", "Every event type."), **_errors()},
                operationId="listEventTypes",
            ),
        },
        f"{PREFIX}/openapi.json": {
            "get": _operation(
                "This document",
                {
                    "200": {
                        "description": "OpenAPI 3.1.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_errors(),
                },
                operationId="openapi",
            ),
        },
    }
    schemas = {
        "Error": ERROR,
        "Webhook": WEBHOOK,
        "WebhookCreated": WEBHOOK_CREATED,
        "WebhookCreate": create,
        "WebhookList": _list_of("Webhook"),
        "EventType": EVENT_TYPE,
        "EventTypeList": _list_of("EventType"),
        "TestSent": TEST_SENT,
        "Buyer": BUYER,
        "RemovedBuyer": REMOVED_BUYER,
        "BuyerPage": BUYER_PAGE,
        "SaleCycle": SALE_CYCLE_ITEM,
        "SaleCyclePage": SALE_CYCLE_PAGE,
    }
    # A test event's data: tagged by sample_of, as the events by type.
    samples = {code: _component("TestData", code) for code in EVENT_DATA}
    for code, component in samples.items():
        schemas[component] = sample_schema(code)
    test_data = _tagged_union(SAMPLE_OF, samples)
    webhooks = {}
    events = {}
    for code, name, description, _subscribable in event_types:
        component = events[code] = _component("Event", code)
        schemas[component] = envelope_schema(
            code, test_data if code == TEST_EVENT else None
        )
        webhooks[code] = {
            "post": {
                "summary": name,
                "description": (description or "")
                + "\n\nSigned as Standard Webhooks: headers webhook-id, "
                "webhook-timestamp, webhook-signature (HMAC-SHA256 with the "
                "webhook's secret). Answer 2xx within the timeout; anything "
                "else is retried.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(component)}},
                },
                "responses": {"2XX": {"description": "Received."}},
            }
        }
    # Every event, for a receiver that takes several types on one URL.
    schemas["Event"] = _tagged_union("type", events)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Coop Developer Settings API",
            "version": API_VERSION,
            "description": "The buyer list and webhook subscriptions of a food "
            "cooperative's shop. Authenticate with an API key from the "
            "Developer settings tab: Authorization: Bearer <key>. On a server "
            "with several databases, name one in the X-Odoo-Database header.",
        },
        # Relative (OpenAPI 3.1, Server Object): the server the document was
        # fetched from; never a Host header's, nor a stale configured one.
        "servers": [{"url": "/"}],
        "paths": paths,
        "webhooks": webhooks,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An Odoo API key (Developer settings tab).",
                }
            },
            "parameters": {
                "Database": {
                    "name": DATABASE_HEADER,
                    "in": "header",
                    "required": False,
                    "description": "The database, on a server that has several "
                    "(as Odoo 19's JSON-2 API).",
                    "schema": {"type": "string"},
                }
            },
        },
    }
