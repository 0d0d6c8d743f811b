"""The API contract: JSON Schemas of the events' data and of the HTTP API,
gathered in the OpenAPI 3.1 document by openapi.py.

Plain Python (no Odoo): the tests validate the document, the API's answers
and the delivered payloads against these very schemas, so they cannot drift
from what is sent. The contract's constants (limits, headers, id and secret
formats, what a receiver's answer means) are spelled here only: the
controllers, the models and the rest of this package import them. A leaf
module: it imports nothing of the addon (tests load it alone, by path).
"""

import copy

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
PREFIX = "/coop/api/v1"
# As Odoo 19's JSON-2 API: names the database on a server that has several.
DATABASE_HEADER = "X-Odoo-Database"
MAX_ID = 2**31 - 1  # ids are PostgreSQL integers
# Webhook URLs: at most that many characters.
MAX_URL_LENGTH = 2048
# Reminders: how long before the date, per endpoint (1 hour to 7 days).
MIN_LEAD_TIME_HOURS = 1
MAX_LEAD_TIME_HOURS = 7 * 24
DEFAULT_LEAD_TIME_HOURS = 24
# Event ids: the webhook-id header of every delivery of the event.
EVENT_ID_PREFIX = "evt_"
EVENT_ID_PATTERN = f"^{EVENT_ID_PREFIX}[0-9a-f]{{32}}$"
# Signing secrets (Standard Webhooks); after a rotation the previous one also
# signs for this many hours.
SECRET_PREFIX = "whsec_"
ROTATION_OVERLAP_HOURS = 24
# A receiver's answer: any 2xx is a success.
SUCCESS_STATUSES = range(200, 300)


def is_success(status):
    """Whether a receiver's HTTP status says it took the delivery."""
    return status in SUCCESS_STATUSES


# The pages of the lists (buyers, sale cycles): limit's default and maximum.
DEFAULT_PAGE_LIMIT = 50
MAX_PAGE_LIMIT = 1000


def is_record_id(value):
    """Whether value can be a record id: checked before it reaches SQL
    (a string or an integer beyond PostgreSQL's fails the query)."""
    return (
        isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID
    )


_UTC = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$",
    "description": 'UTC, "YYYY-MM-DD HH:MM:SS".',
}
_UTC_OR_NULL = {**_UTC, "type": ["string", "null"], "description": "UTC, or null."}
_LOCAL = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601 with the shop's time zone offset.",
}
_REF = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    "additionalProperties": False,
}

CYCLE_STATES = ["draft", "scheduled", "open", "closed", "cancelled"]

# Every sale_cycle.* event (coop.sale.cycle._webhook_data).
SALE_CYCLE = {
    "type": "object",
    "required": [
        "id",
        "name",
        "state",
        "description_html",
        "description_text",
        "date_open",
        "date_close",
        "timezone",
        "date_open_local",
        "date_close_local",
        "opened_at",
        "closed_at",
        "shop_url",
        "company",
        "occurred_at",
    ],
    "properties": {
        "id": {
            "type": "integer",
            "description": "The sale cycle (0 in a test event without any cycle).",
        },
        "name": {"type": "string"},
        "state": {"type": "string", "enum": CYCLE_STATES},
        "description_html": {"type": ["string", "null"]},
        "description_text": {"type": ["string", "null"]},
        "date_open": _UTC,
        "date_close": _UTC,
        "timezone": {"type": "string", "description": "The shop's time zone."},
        "date_open_local": _LOCAL,
        "date_close_local": _LOCAL,
        "opened_at": _UTC_OR_NULL,
        "closed_at": _UTC_OR_NULL,
        "shop_url": {"type": ["string", "null"]},
        "company": {**_REF, "description": "The shop."},
        "occurred_at": _UTC,
    },
    "additionalProperties": False,
}


def _extended(base, **properties):
    schema = copy.deepcopy(base)
    schema["properties"].update(properties)
    schema["required"] += list(properties)
    return schema


def _countdown(key, what):
    return {
        key: {"type": "integer", "minimum": 0, "description": f"Seconds until {what}."},
        f"{key}_text": {
            "type": "string",
            "description": 'The same, in words (e.g. "23 hours"), in the shop\'s '
            "language.",
        },
    }


EVENT_DATA = {
    "sale_cycle.opening_soon": _extended(
        SALE_CYCLE, **_countdown("time_to_open", "date_open")
    ),
    "sale_cycle.opened": SALE_CYCLE,
    "sale_cycle.closing_soon": _extended(
        SALE_CYCLE, **_countdown("time_left", "date_close")
    ),
    "sale_cycle.closed": _extended(
        SALE_CYCLE,
        order_count={"type": "integer", "minimum": 0},
        buyer_count={"type": "integer", "minimum": 0},
        amount_total={"type": "number"},
        currency={"type": "string", "description": "ISO 4217 code."},
    ),
}
TEST_EVENT = "webhook.test"
# What a test event's data says it samples: its endpoint's event type.
SAMPLE_OF = "sample_of"


def sample_schema(event_type):
    """The data of a test event of an endpoint of event_type: that event's
    data, and which event it samples."""
    return _extended(
        EVENT_DATA[event_type],
        **{
            SAMPLE_OF: {
                "const": event_type,
                "description": "The event type this test event is a sample of: "
                "the rest of its data is shaped as that event's.",
            }
        },
    )


def data_schema(event_type):
    """The JSON Schema of the data of event_type (KeyError if unknown)."""
    if event_type == TEST_EVENT:
        return {"oneOf": [sample_schema(code) for code in EVENT_DATA]}
    return EVENT_DATA[event_type]


def envelope_schema(event_type, data=None):
    """The JSON Schema of a delivered body: {id, type, timestamp, data}
    (data: the schema of the data, if not data_schema(event_type))."""
    return {
        "type": "object",
        "required": ["id", "type", "timestamp", "data"],
        "properties": {
            "id": {
                "type": "string",
                "pattern": EVENT_ID_PATTERN,
                "description": "The event's id, also in the webhook-id header: "
                "the same on every retry and resend (deduplicate on it).",
            },
            "type": {"const": event_type},
            "timestamp": {
                "type": "string",
                "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
                "description": "When the event happened (UTC).",
            },
            "data": data if data is not None else data_schema(event_type),
        },
        "additionalProperties": False,
    }


# ----------------------------------------------------------------------
# The HTTP API
# ----------------------------------------------------------------------

# The API's errors answer {"error": <code>, "message": <translated text>},
# with the HTTP status of their code.
ERROR_STATUSES = {
    "invalid_request": 400,
    "invalid_json": 400,
    "invalid_parameter": 400,
    "database_required": 400,
    "invalid_api_key": 401,
    "forbidden": 403,
    "insufficient_scope": 403,
    "company_forbidden": 403,
    "not_found": 404,
    "cycle_not_found": 404,
    "database_not_found": 404,
    "method_not_allowed": 405,
    "validation_error": 422,
    "rate_limited": 429,
}
ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {
            "type": "string",
            "description": "A stable code, e.g. invalid_api_key, insufficient_scope, "
            "not_found, validation_error.",
        },
        "message": {
            "type": "string",
            "description": "What went wrong, in the key user's language.",
        },
    },
    "additionalProperties": False,
}
WEBHOOK = {
    "type": "object",
    "required": [
        "id",
        "event_type",
        "url",
        "state",
        "lead_time_hours",
        "disabled_reason",
        "created_at",
    ],
    "properties": {
        "id": {"type": "integer"},
        "event_type": {"type": "string", "description": "An event type's code."},
        "url": {"type": "string"},
        "state": {"type": "string", "enum": ["enabled", "disabled"]},
        "lead_time_hours": {
            "type": ["integer", "null"],
            "description": "Reminders: how many hours before the date they are "
            "sent; null for the other events.",
        },
        "disabled_reason": {"type": ["string", "null"]},
        "created_at": _UTC,
    },
    "additionalProperties": False,
}
WEBHOOK_CREATED = _extended(
    WEBHOOK,
    secret={
        "type": "string",
        "pattern": f"^{SECRET_PREFIX}",
        "description": "The signing secret (Standard Webhooks), shown this once.",
    },
)
WEBHOOK_CREATE = {
    "type": "object",
    "required": ["event_type", "url"],
    "properties": {
        "event_type": {
            "type": "string",
            "description": "The code of a subscribable event type "
            "(GET /coop/api/v1/event-types).",
        },
        "url": {
            "type": "string",
            "pattern": r"^\s*[Hh][Tt][Tt][Pp][Ss]?://",
            "maxLength": MAX_URL_LENGTH,
            "description": "Where the events are sent: https, a public server.",
        },
        "lead_time_hours": {
            "type": "integer",
            "minimum": MIN_LEAD_TIME_HOURS,
            "maximum": MAX_LEAD_TIME_HOURS,
            "description": "Reminders only (sale_cycle.opening_soon, "
            f"sale_cycle.closing_soon): how many hours before; "
            f"{DEFAULT_LEAD_TIME_HOURS} by default.",
        },
    },
    "additionalProperties": False,
}
EVENT_TYPE = {
    "type": "object",
    "required": [
        "code",
        "name",
        "description",
        "subscribable",
        "has_lead_time",
        "data_schema",
    ],
    "properties": {
        "code": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "subscribable": {
            "type": "boolean",
            "description": "Webhooks can be created for it (not the test event).",
        },
        "has_lead_time": {"type": "boolean"},
        "data_schema": {
            "type": "object",
            "description": "The JSON Schema of the event's data.",
        },
    },
    "additionalProperties": False,
}
_EMAIL = {
    "type": ["string", "null"],
    "description": "The customer's email field as typed (e.g. \"Zoë "
    '<zoe@example.org>", or several addresses).',
}
_EMAIL_NORMALIZED = {
    "type": ["string", "null"],
    "description": "The one address of the email field, normalized (lower "
    "case, no name): the key for tools that key contacts by address; null "
    "when the field holds none or several.",
}
_PREVIOUS_EMAIL = {
    "type": ["string", "null"],
    "description": "In a sync (cursor or updated_since): the email_normalized "
    "of before, when it changed since then: drop that address. Null "
    "otherwise.",
}
BUYER = {
    "type": "object",
    "required": [
        "id",
        "removed",
        "partner_id",
        "name",
        "email",
        "email_normalized",
        "previous_email",
        "phone",
        "company",
        "first_order_date",
        "last_order_date",
        "order_count",
        "last_cycle",
        "opt_out",
    ],
    "properties": {
        "id": {"type": "integer"},
        "removed": {"const": False},
        "partner_id": {"type": "integer"},
        "name": {
            "type": ["string", "null"],
            "description": "The customer's name (null for a contact without one).",
        },
        "email": _EMAIL,
        "email_normalized": _EMAIL_NORMALIZED,
        "previous_email": _PREVIOUS_EMAIL,
        "phone": {"type": ["string", "null"]},
        "company": {**_REF, "description": "The shop."},
        "first_order_date": _UTC,
        "last_order_date": _UTC,
        "order_count": {"type": "integer", "minimum": 0},
        "last_cycle": {"anyOf": [_REF, {"type": "null"}]},
        "opt_out": {"type": "boolean"},
    },
    "additionalProperties": False,
}
REMOVED_BUYER = {
    "type": "object",
    "description": "A buyer removed since the sync cursor: unsubscribe them.",
    "required": [
        "id",
        "removed",
        "partner_id",
        "email",
        "email_normalized",
        "previous_email",
        "company",
    ],
    "properties": {
        "id": {"type": "integer"},
        "removed": {"const": True},
        "partner_id": {
            "type": ["integer", "null"],
            "description": "null when the customer was deleted (e.g. merged "
            "into another).",
        },
        "email": _EMAIL,
        "email_normalized": _EMAIL_NORMALIZED,
        "previous_email": _PREVIOUS_EMAIL,
        "company": _REF,
    },
    "additionalProperties": False,
}
BUYER_PAGE = {
    "type": "object",
    "required": ["data", "next_cursor", "sync_cursor"],
    "properties": {
        "data": {
            "type": "array",
            "items": {
                "oneOf": [
                    {"$ref": "#/components/schemas/Buyer"},
                    {"$ref": "#/components/schemas/RemovedBuyer"},
                ]
            },
        },
        "next_cursor": {
            "type": ["string", "null"],
            "description": "The next page (as cursor), or null on the last one.",
        },
        "sync_cursor": {
            "type": "string",
            "description": "Next time, as cursor: what changed since this listing.",
        },
    },
    "additionalProperties": False,
}


def _or_empty(schema):
    """A query parameter's schema: an empty value counts as absent."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


_ID_QUERY = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_DATE_TIME_QUERY = _or_empty({"type": "string", "format": "date-time"})
_COMPANY_FILTER = {"name": "company_id", "in": "query", "schema": _or_empty(_ID_QUERY)}
BUYER_PARAMETERS = [
    {
        "name": "cursor",
        "in": "query",
        "schema": {"type": "string"},
        "description": "The next_cursor or sync_cursor of an earlier answer.",
    },
    {
        "name": "limit",
        "in": "query",
        "schema": _or_empty(
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_LIMIT}
        ),
        "description": f"1 to {MAX_PAGE_LIMIT}, {DEFAULT_PAGE_LIMIT} by default.",
    },
    _COMPANY_FILTER,
    {"name": "cycle_id", "in": "query", "schema": _or_empty(_ID_QUERY)},
    {
        "name": "updated_since",
        "in": "query",
        "schema": _DATE_TIME_QUERY,
    },
    {
        "name": "include_opted_out",
        "in": "query",
        "schema": _or_empty({"type": "boolean"}),
    },
]
SALE_CYCLE_ITEM = {
    "type": "object",
    "required": [
        "id",
        "name",
        "state",
        "company",
        "date_open",
        "date_close",
        "opened_at",
        "closed_at",
        "shop_url",
    ],
    "properties": {
        "id": {"type": "integer", "description": "The buyer list's cycle_id."},
        "name": {"type": "string"},
        "state": {"type": "string", "enum": CYCLE_STATES},
        "company": {**_REF, "description": "The shop."},
        "date_open": _UTC,
        "date_close": _UTC,
        "opened_at": _UTC_OR_NULL,
        "closed_at": _UTC_OR_NULL,
        "shop_url": {"type": ["string", "null"]},
    },
    "additionalProperties": False,
}
SALE_CYCLE_PAGE = {
    "type": "object",
    "required": ["data", "next_cursor"],
    "properties": {
        "data": {"type": "array", "items": {"$ref": "#/components/schemas/SaleCycle"}},
        "next_cursor": {
            "type": ["string", "null"],
            "description": "The next page (as cursor), or null on the last one.",
        },
    },
    "additionalProperties": False,
}
SALE_CYCLE_PARAMETERS = [
    {
        "name": "cursor",
        "in": "query",
        "schema": {"type": "string"},
        "description": "The next_cursor of an earlier answer.",
    },
    BUYER_PARAMETERS[1],  # limit
    {
        "name": "state",
        "in": "query",
        "schema": _or_empty({"type": "string", "enum": CYCLE_STATES}),
    },
    _COMPANY_FILTER,
    {
        "name": "date_from",
        "in": "query",
        "schema": _DATE_TIME_QUERY,
        "description": "Only the cycles closing at or after this date-time.",
    },
    {
        "name": "date_to",
        "in": "query",
        "schema": _DATE_TIME_QUERY,
        "description": "Only the cycles opening at or before this date-time.",
    },
]
# The parameters each list accepts, in the order its refusals name them.
BUYER_PAGE_PARAMETERS = tuple(parameter["name"] for parameter in BUYER_PARAMETERS)
SALE_CYCLE_PAGE_PARAMETERS = tuple(
    parameter["name"] for parameter in SALE_CYCLE_PARAMETERS
)
TEST_SENT = {
    "type": "object",
    "required": ["event_id"],
    "properties": {"event_id": {"type": "string", "pattern": EVENT_ID_PATTERN}},
    "additionalProperties": False,
}
