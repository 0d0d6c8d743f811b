# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Webhook subscriptions over HTTP, for integration platforms (Zapier's REST
hooks, n8n and Make triggers), the event catalogue, and the OpenAPI document.

    GET    /coop/api/v1/webhooks            the key user's webhooks
    POST   /coop/api/v1/webhooks            subscribe (201, the secret once)
    DELETE /coop/api/v1/webhooks/<id>       unsubscribe (204)
    POST   /coop/api/v1/webhooks/<id>/test  send the test event (202)
    GET    /coop/api/v1/event-types         the catalogue, with data schemas
    GET    /coop/api/v1/openapi.json        the contract (OpenAPI 3.1)

The webhooks go through the model as the Developer settings tab does: same
validation, caps, URL guard, ownership and messages.
"""

import json
import re

from odoo import fields, http
from odoo.http import request
from odoo.tools.translate import LazyTranslate

from ..models.res_users_apikeys import SCOPE_WEBHOOKS
from ..webhook import openapi, schemas
from .api_auth import (
    ROUTE,
    ApiError,
    dispatch,
    json_response,
    translated_error,
)

_lt = LazyTranslate(__name__)

NOT_FOUND = _lt("No such API endpoint: see GET /coop/api/v1/openapi.json.")
PREFIX = schemas.PREFIX


def webhook_json(endpoint):
    return {
        "id": endpoint.id,
        "event_type": endpoint.event_type,
        "url": endpoint.url,
        "state": endpoint.state,
        "lead_time_hours": (
            endpoint.lead_time_hours if endpoint.event_type_has_lead_time else None
        ),
        "disabled_reason": endpoint.disabled_reason or None,
        "created_at": fields.Datetime.to_string(endpoint.create_date),
    }


# What PostgreSQL cannot store in text: NUL, and a lone half of a UTF-16
# pair (JSON's "\ud800" decodes to one, which UTF-8 cannot encode).
NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def is_text(value):
    """Whether every string in a decoded JSON value (keys too) is text."""
    if isinstance(value, str):
        return not NOT_TEXT.search(value)
    if isinstance(value, dict):
        return all(is_text(key) and is_text(item) for key, item in value.items())
    if isinstance(value, list):
        return all(is_text(item) for item in value)
    return True


def event_types(env):
    return env["coop.webhook.event.type"].sudo().search([])


class WebhookApi(http.Controller):
    @http.route(f"{PREFIX}/webhooks", **ROUTE)
    def webhooks(self):
        return dispatch({"GET": self._list, "POST": self._create}, SCOPE_WEBHOOKS)

    @http.route(f"{PREFIX}/webhooks/<int:endpoint_id>", **ROUTE)
    def webhook(self, endpoint_id):
        return dispatch({"DELETE": self._delete}, SCOPE_WEBHOOKS, endpoint_id)

    @http.route(f"{PREFIX}/webhooks/<int:endpoint_id>/test", **ROUTE)
    def webhook_test(self, endpoint_id):
        return dispatch({"POST": self._test}, SCOPE_WEBHOOKS, endpoint_id)

    @http.route(f"{PREFIX}/event-types", **ROUTE)
    def event_types(self):
        return dispatch({"GET": self._event_types}, None)

    @http.route(f"{PREFIX}/openapi.json", **ROUTE)
    def openapi(self):
        return dispatch({"GET": self._openapi}, None)

    @http.route(f"{PREFIX}/<path:path>", **ROUTE)
    def not_found(self, path):
        return translated_error("not_found", NOT_FOUND)

    # ------------------------------------------------------------------

    def _list(self, env):
        endpoints = env["coop.webhook.endpoint"].search(
            [("user_id", "=", env.uid)], order="id"
        )
        return json_response({"data": [webhook_json(e) for e in endpoints]})

    def _create(self, env):
        body = self._json_body(env)
        vals = self._create_values(env, body)
        endpoint = env["coop.webhook.endpoint"].create(vals)
        return json_response(
            {**webhook_json(endpoint), "secret": endpoint._secret()}, 201
        )

    def _json_body(self, env):
        try:
            body = json.loads(request.httprequest.get_data() or b"null")
            text = is_text(body)
        except (ValueError, RecursionError):  # not JSON, or nested too deep
            body = text = None
        if not isinstance(body, dict):
            raise ApiError(
                "invalid_json", env._("The request body must be a JSON object.")
            )
        if not text:
            raise ApiError(
                "invalid_json",
                env._(
                    "The request body holds characters that are not text: NUL, or "
                    "half of a UTF-16 pair (\\ud800)."
                ),
            )
        return body

    def _create_values(self, env, body):
        """The endpoint's values from the request body (its shape only: the
        model validates the values themselves)."""
        unknown = sorted(set(body) - set(schemas.WEBHOOK_CREATE["properties"]))
        if unknown:
            raise ApiError(
                "invalid_request",
                env._("Unknown field(s): %(fields)s.", fields=", ".join(unknown)),
            )
        for name, kind in (("event_type", str), ("url", str)):
            if not isinstance(body.get(name), kind):
                raise ApiError(
                    "invalid_request",
                    env._("%(name)s is required: a string.", name=name),
                )
        event_type = (
            env["coop.webhook.event.type"]
            .sudo()
            .search([("code", "=", body["event_type"]), ("subscribable", "=", True)])
        )
        if not event_type:
            raise ApiError(
                "validation_error",
                env._(
                    "Unknown event type %(code)s: see GET /coop/api/v1/event-types.",
                    code=body["event_type"],
                ),
            )
        vals = {"event_type_id": event_type.id, "url": body["url"]}
        if "lead_time_hours" in body:
            lead_time = body["lead_time_hours"]
            if not event_type.has_lead_time:
                raise ApiError(
                    "validation_error",
                    env._(
                        "lead_time_hours only applies to reminders "
                        "(sale_cycle.opening_soon, sale_cycle.closing_soon)."
                    ),
                )
            if not isinstance(lead_time, int) or isinstance(lead_time, bool):
                raise ApiError(
                    "invalid_request",
                    env._("lead_time_hours must be a whole number of hours."),
                )
            vals["lead_time_hours"] = lead_time
        return vals

    def _own_endpoint(self, env, endpoint_id):
        """The key user's endpoint; anyone else's is as missing."""
        endpoint = (
            env["coop.webhook.endpoint"].search(
                [("id", "=", endpoint_id), ("user_id", "=", env.uid)]
            )
            if endpoint_id <= schemas.MAX_ID
            else None
        )
        if not endpoint:
            raise ApiError("not_found", env._("No webhook %(id)s.", id=endpoint_id))
        return endpoint

    def _delete(self, env, endpoint_id):
        self._own_endpoint(env, endpoint_id).unlink()
        return request.make_response("", status=204)

    def _test(self, env, endpoint_id):
        deliveries = self._own_endpoint(env, endpoint_id)._send_test_event()
        return json_response(
            {"event_id": deliveries.sudo().event_id.public_id}, status=202
        )

    def _event_types(self, env):
        catalogue = [
            {
                "code": event_type.code,
                "name": event_type.name,
                "description": event_type.description or None,
                "subscribable": event_type.subscribable,
                "has_lead_time": event_type.has_lead_time,
                "data_schema": schemas.data_schema(event_type.code),
            }
            for event_type in event_types(env)
        ]
        # In the request's language.
        return json_response({"data": catalogue}, headers=[("Vary", "Accept-Language")])

    def _openapi(self, env):
        env = env(context={**env.context, "lang": "en_US"})  # the contract's language
        document = openapi.openapi_document(
            [(t.code, t.name, t.description, t.subscribable) for t in event_types(env)],
        )
        # Each database's own document (chosen by host, header or session):
        # never kept by a shared cache.
        return json_response(
            document,
            headers=[
                ("Cache-Control", "private, no-cache"),
                ("Vary", f"Host, Cookie, {schemas.DATABASE_HEADER}"),
            ],
        )
