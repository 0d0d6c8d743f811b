# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""GET /coop/api/v1/buyers: the buyer list, for newsletter tools.

Authenticated by an API key in ``Authorization: Bearer <key>``; no session,
no CSRF. Every error is JSON: ``{"error": <stable code>, "message": <text>}``.
The listing itself is ``coop.buyer._buyer_page()``; RPC clients call it as
``buyer_page``.
"""

import json
import re

from odoo import http
from odoo.http import request
from odoo.tools.translate import LazyTranslate

from ..models.coop_buyer import PAGE_PARAMETERS, BuyerListError
from ..models.res_users import GROUP_XMLID

_lt = LazyTranslate(__name__)

BEARER = re.compile(r"^bearer\s+(\S+)$", re.IGNORECASE)
# As Odoo 19's JSON-2 API: names the database on a server that has several.
DATABASE_HEADER = "X-Odoo-Database"
ALLOW = "GET, HEAD, OPTIONS"
NO_DATABASE = _lt(
    "This server has several databases: name one in the X-Odoo-Database header."
)
UNKNOWN_DATABASE = _lt("Database %(name)s is not available here.")
NOT_FOUND = _lt("No such API endpoint: see GET /coop/api/v1/buyers.")


def json_response(payload, status=200, headers=None):
    return request.make_response(
        json.dumps(payload, ensure_ascii=False),
        headers=[("Content-Type", "application/json; charset=utf-8")]
        + list(headers or []),
        status=status,
    )


def error_response(error):
    headers = [("WWW-Authenticate", "Bearer")] if error.status == 401 else []
    return json_response(
        {"error": error.code, "message": str(error.args[0])}, error.status, headers
    )


def translated_error(status, code, message, **args):
    """A JSON error from before the key is checked (no user, maybe no
    database yet), translated from the request's Accept-Language."""
    lang = request.best_lang or "en_US"
    return error_response(BuyerListError(status, code, message._translate(lang) % args))


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
        if request.httprequest.method == "OPTIONS":
            # Odoo routes OPTIONS to every endpoint: answer it, without data.
            return request.make_response("", headers=[("Allow", ALLOW)], status=204)
        named = request.httprequest.headers.get(DATABASE_HEADER)
        if not request.db:
            return self._serve_in_named_database(named)
        if named and named != request.db:
            return translated_error(
                404, "database_not_found", UNKNOWN_DATABASE, name=named
            )
        try:
            env = self._authenticate()
            return json_response(
                env["coop.buyer"]._buyer_page(
                    **{name: params[name] for name in PAGE_PARAMETERS if name in params}
                )
            )
        except BuyerListError as error:
            return error_response(error)

    @http.route(
        "/coop/api/v1/<path:path>",
        type="http",
        auth="none",
        csrf=False,
        save_session=False,
    )
    def not_found(self, path):
        return translated_error(404, "not_found", NOT_FOUND)

    def _serve_in_named_database(self, name):
        """Serve the request in the database the header names.

        Reached without a database when Odoo could not pick one (several
        databases, no dbfilter, no session): possible only when this addon is
        loaded server-wide (``server_wide_modules``), as Odoo then routes
        here before opening a database.
        """
        if not name:
            return translated_error(400, "database_required", NO_DATABASE)
        if name not in http.db_list(force=True):
            return translated_error(
                404, "database_not_found", UNKNOWN_DATABASE, name=name
            )
        request.db = name
        return request._serve_db()

    def _authenticate(self):
        """The environment of the key's user, who must hold the access."""
        match = BEARER.match(request.httprequest.headers.get("Authorization", ""))
        uid = match and request.env["res.users.apikeys"]._check_credentials(
            scope="rpc", key=match.group(1)
        )
        if not uid:
            raise BuyerListError(
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
            raise BuyerListError(
                403,
                "forbidden",
                env._("This API key's user has no Developer settings access."),
            )
        return env
