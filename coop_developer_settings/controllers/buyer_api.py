# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""GET /coop/api/v1/buyers: the buyer list, for newsletter tools.

Authenticated by an API key in ``Authorization: Bearer <key>``; no session,
no CSRF. Every error is JSON: ``{"error": <stable code>, "message": <text>}``.
"""

import json
import re
from datetime import datetime, timezone

from odoo import fields, http
from odoo.exceptions import AccessError
from odoo.http import request

from ..models.res_users import GROUP_XMLID

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
BEARER = re.compile(r"^bearer\s+(\S+)$", re.IGNORECASE)


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def json_response(payload, status=200, headers=None):
    return request.make_response(
        json.dumps(payload, ensure_ascii=False),
        headers=[("Content-Type", "application/json; charset=utf-8")]
        + list(headers or []),
        status=status,
    )


def parse_int(params, name, minimum=1, maximum=None, default=None):
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum or (maximum and value > maximum):
        bounds = f"{minimum}..{maximum}" if maximum else f">= {minimum}"
        raise ApiError(
            400,
            "invalid_parameter",
            request.env._(
                "%(name)s must be a whole number (%(bounds)s).",
                name=name,
                bounds=bounds,
            ),
        )
    return value


def parse_datetime(params, name):
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400,
            "invalid_parameter",
            request.env._(
                "%(name)s must be an ISO-8601 date-time, e.g. 2026-11-28T08:00:00Z.",
                name=name,
            ),
        ) from None
    if value.tzinfo:  # Odoo stores naive UTC
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def parse_bool(params, name):
    raw = (params.get(name) or "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ApiError(
            400,
            "invalid_parameter",
            request.env._("%(name)s must be true or false.", name=name),
        )
    return raw in ("true", "1")


def buyer_json(buyer):
    # The cycle's name only: readers of buyers need no access to sale cycles.
    last_cycle = buyer.last_cycle_id.sudo()
    return {
        "id": buyer.id,
        "partner_id": buyer.partner_id.id,
        "name": buyer.name,
        "email": buyer.email or None,
        "phone": buyer.phone or None,
        "company": {"id": buyer.company_id.id, "name": buyer.company_id.name},
        "first_order_date": fields.Datetime.to_string(buyer.first_order_date),
        "last_order_date": fields.Datetime.to_string(buyer.last_order_date),
        "order_count": buyer.order_count,
        "last_cycle": (
            {"id": last_cycle.id, "name": last_cycle.name} if last_cycle else None
        ),
        "opt_out": buyer.opt_out,
    }


class BuyerApi(http.Controller):
    @http.route(
        "/coop/api/v1/buyers",
        type="http",
        auth="none",
        methods=["GET"],
        csrf=False,
        save_session=False,
        # Not read-only: the key's "last used" stamp is written.
        readonly=False,
    )
    def buyers(self, **params):
        try:
            env = self._authenticate()
            return json_response(self._buyers(env, params))
        except ApiError as error:
            headers = [("WWW-Authenticate", "Bearer")] if error.status == 401 else []
            return json_response(
                {"error": error.code, "message": error.message}, error.status, headers
            )

    def _authenticate(self):
        """The environment of the key's user, who must hold the access."""
        match = BEARER.match(request.httprequest.headers.get("Authorization", ""))
        uid = match and request.env["res.users.apikeys"]._check_credentials(
            scope="rpc", key=match.group(1)
        )
        if not uid:
            raise ApiError(
                401,
                "invalid_api_key",
                request.env._(
                    "Missing, unknown, revoked or expired API key: send "
                    "'Authorization: Bearer <your API key>'."
                ),
            )
        user = request.env["res.users"].sudo().browse(uid)
        env = request.env(
            user=uid,
            context={
                **request.env.context,
                "lang": user.lang,
                "allowed_company_ids": user.company_ids.ids,
            },
        )
        if not env.user.has_group(GROUP_XMLID):
            raise ApiError(
                403,
                "forbidden",
                env._("This API key's user has no Developer settings access."),
            )
        return env

    def _buyers(self, env, params):
        limit = parse_int(params, "limit", maximum=MAX_LIMIT, default=DEFAULT_LIMIT)
        cursor = parse_int(params, "cursor", minimum=0, default=0)
        company_id = parse_int(params, "company_id")
        cycle_id = parse_int(params, "cycle_id")
        updated_since = parse_datetime(params, "updated_since")
        include_opted_out = parse_bool(params, "include_opted_out")

        domain = [("id", ">", cursor)]
        if company_id:
            if company_id not in env.user.company_ids.ids:
                raise ApiError(
                    403,
                    "company_forbidden",
                    env._("You are not allowed on company %(id)s.", id=company_id),
                )
            domain.append(("company_id", "=", company_id))
        if cycle_id:
            cycle = env["coop.sale.cycle"].sudo().browse(cycle_id).exists()
            if not cycle or cycle.company_id not in env.user.company_ids:
                raise ApiError(
                    404, "cycle_not_found", env._("No sale cycle %(id)s.", id=cycle_id)
                )
            orders = (
                env["sale.order"]
                .sudo()
                .search([("sale_cycle_id", "=", cycle.id), ("state", "=", "sale")])
            )
            domain += [
                ("company_id", "=", cycle.company_id.id),
                ("partner_id", "in", orders.partner_id.ids),
            ]
        if updated_since:
            domain.append(("updated_at", ">=", updated_since))
        if not include_opted_out:
            domain.append(("opt_out", "=", False))
        try:
            buyers = env["coop.buyer"].search(domain, limit=limit + 1, order="id")
        except AccessError as error:
            raise ApiError(403, "forbidden", str(error)) from None
        page, more = buyers[:limit], len(buyers) > limit
        return {
            "data": [buyer_json(buyer) for buyer in page],
            "next_cursor": str(page[-1].id) if more else None,
        }
