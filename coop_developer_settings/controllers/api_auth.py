# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""What every route of /coop/api/v1 shares: the API key, its scope, the
database, and JSON answers and errors.

Authentication as Odoo 19's JSON-2 API: ``Authorization: Bearer <key>``
and, on a server with several databases, ``X-Odoo-Database``. The key is
checked by Odoo's own ``res.users.apikeys._check_credentials(scope=...)``,
which takes global (full account) keys and the keys of that scope only; its
*last used* is stamped once the call is accepted, never for a refused one.
Every error is ``{"error": <stable code>, "message": <translated text>}``.
"""

import json
import re

import babel.core

from odoo import SUPERUSER_ID, http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.http import request
from odoo.tools.translate import LazyTranslate

from ..models.coop_api_parameters import BuyerListError
from ..models.coop_webhook_endpoint_replay import TooManySends
from ..models.res_users import GROUP_XMLID
from ..models.res_users_apikeys import SCOPE_BUYERS, SCOPE_WEBHOOKS
from ..webhook.schemas import DATABASE_HEADER, ERROR_STATUSES

_lt = LazyTranslate(__name__)

# The pattern of Odoo's own bearer authentication (ir.http._auth_method_bearer).
BEARER = re.compile(r"^bearer\s+(.+)$", re.IGNORECASE)
# What a key can be made of (printable ASCII): anything else is no key, and
# never reaches the database (a NUL fails the query).
KEY_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")
API_SCOPES = (SCOPE_BUYERS, SCOPE_WEBHOOKS)
# Every route of the API: no session, no CSRF token (a key instead).
ROUTE = {
    "type": "http",
    "auth": "none",
    "csrf": False,
    "save_session": False,
    # Not read-only: the key's "last used" stamp is written.
    "readonly": False,
}

WRONG_SCOPE = _lt(
    "This API key opens another API of the Developer settings only: generate "
    "a key for this one (or a full-account key)."
)
INVALID_KEY = _lt(
    "Missing, unknown, revoked or expired API key: send "
    "'Authorization: Bearer <your API key>'."
)
METHOD_NOT_ALLOWED = _lt("Method %(method)s is not allowed here.")
UNKNOWN_DATABASE = _lt("Database %(name)s is not available here.")
NO_DATABASE = _lt(
    "This server has several databases: name one in the X-Odoo-Database header."
)


class ApiError(Exception):
    """An error the API answers as JSON, with the HTTP status of its code
    (and a Retry-After of retry_after seconds, if given)."""

    def __init__(self, code, message, retry_after=None):
        super().__init__(message)
        self.status, self.code, self.message = ERROR_STATUSES[code], code, message
        self.retry_after = retry_after


def json_response(payload, status=200, headers=None):
    return request.make_response(
        json.dumps(payload, ensure_ascii=False),
        headers=[("Content-Type", "application/json; charset=utf-8")]
        + list(headers or []),
        status=status,
    )


def error_response(error):
    headers = [("WWW-Authenticate", "Bearer")] if error.status == 401 else []
    if error.retry_after is not None:
        headers.append(("Retry-After", str(error.retry_after)))
    return json_response(
        {"error": error.code, "message": str(error.message)}, error.status, headers
    )


def translated_error(code, message, **args):
    """An error from before the key is checked (no user, maybe no database
    yet), in the language of the request's Accept-Language."""
    return error_response(ApiError(code, message._translate(request_lang()) % args))


# Odoo's errors raised by the models, as the API answers them.
ODOO_ERRORS = (
    (MissingError, "not_found"),
    (AccessError, "forbidden"),
    (ValidationError, "validation_error"),
    (UserError, "invalid_request"),
)


def dispatch(handlers, scope, *args):
    """Answer the request with the handler of its method (see serve)."""
    method = request.httprequest.method
    allowed = {*handlers, "OPTIONS"} | ({"HEAD"} if "GET" in handlers else set())
    allow = ", ".join(sorted(allowed))
    if method == "OPTIONS":
        return request.make_response("", headers=[("Allow", allow)], status=204)
    handler = handlers.get("GET" if method == "HEAD" else method)
    if not handler:
        response = translated_error(
            "method_not_allowed", METHOD_NOT_ALLOWED, method=method
        )
        response.headers["Allow"] = allow
        return response
    return serve(scope, handler, *args)


def serve(scope, handler, *args):
    """Answer the request with handler(env, *args) as the key's user.

    The key must be a full-account key or one of scope; its user must hold
    Developer settings access. Without scope, no key is asked for. Whatever
    handler raises (ApiError, or an Odoo error of the models: validation,
    access...) is answered as JSON, and what it wrote is rolled back.
    """
    named = request.httprequest.headers.get(DATABASE_HEADER)
    if not request.db:
        return serve_in_named_database(named)
    if named and named != request.db:
        return translated_error("database_not_found", UNKNOWN_DATABASE, name=named)
    try:
        env = authenticate(scope) if scope else public_env()
        try:
            with env.cr.savepoint():
                return handler(env, *args)
        except UserError as error:  # and its subclasses: see ODOO_ERRORS
            raise odoo_error(error) from None
    except ApiError as error:
        return error_response(error)


def odoo_error(error):
    """The ApiError of an Odoo error raised by the models."""
    if isinstance(error, BuyerListError):  # it says its own status and code
        return ApiError(error.code, error.args[0])
    if isinstance(error, TooManySends):
        return ApiError("rate_limited", error.args[0], retry_after=error.retry_after)
    code = next(
        code for error_class, code in ODOO_ERRORS if isinstance(error, error_class)
    )
    return ApiError(code, error.args[0])


def serve_in_named_database(name):
    """Serve the request in the database the header names.

    Reached without a database when Odoo could not pick one (several
    databases, no dbfilter, no session): possible only when this addon is
    loaded server-wide (``server_wide_modules``), as Odoo then routes here
    before opening a database.
    """
    if not name:
        return translated_error("database_required", NO_DATABASE)
    if name not in http.db_list(force=True):
        return translated_error("database_not_found", UNKNOWN_DATABASE, name=name)
    request.db = name
    return request._serve_db()


def bearer_token():
    """The key of the request's Authorization header, or None: a key that
    is not printable ASCII (a NUL...) is no key, never a database error."""
    match = BEARER.match(request.httprequest.headers.get("Authorization", ""))
    token = match and match.group(1).strip()
    return token if token and KEY_CHARACTERS.match(token) else None


def authenticate(scope):
    """The environment of the key's user, in their language and companies."""
    token = bearer_token()
    keys = request.env["res.users.apikeys"]
    uid = token and keys._coop_key_user(scope, token)
    if not uid:
        if token and any(
            keys._coop_key_user(other, token) for other in API_SCOPES if other != scope
        ):
            raise ApiError("insufficient_scope", WRONG_SCOPE._translate(request_lang()))
        raise ApiError("invalid_api_key", INVALID_KEY._translate(request_lang()))
    user = request.env["res.users"].sudo().browse(uid)
    env = request.env(
        user=uid,
        context={
            **request.env.context,
            "lang": user.lang,
            # As Odoo caches them per worker: no query.
            "allowed_company_ids": user._get_company_ids(),
        },
    )
    if not env.user.has_group(GROUP_XMLID):
        raise ApiError(
            "forbidden",
            env._("This API key's user has no Developer settings access."),
        )
    keys._coop_record_use(uid, token)
    return env


def public_env():
    """For the routes that need no key: the catalogue, in the request's
    language."""
    return request.env(
        user=SUPERUSER_ID, context={**request.env.context, "lang": request_lang()}
    )


def request_lang():
    """The request's language: the first of its Accept-Language, in order of
    preference, installed here (exactly, else the same language in another
    region: fr-BE gets fr_FR when fr_BE is not installed), else English.
    Before a database is chosen, the browser's best one (the messages then
    come from the addon's own translation files)."""
    if not request.db:
        return request.best_lang or "en_US"
    # English is always there, even deactivated: the source of the texts.
    installed = [code for code, _name in request.env["res.lang"].get_installed()]
    installed.append("en_US")
    for accepted in request.httprequest.accept_languages.values():
        try:
            language, territory = babel.core.parse_locale(accepted, sep="-")[:2]
        except ValueError:
            continue  # "*", or not a language tag
        for candidate in (
            territory and f"{language}_{territory}",
            babel.core.LOCALE_ALIASES.get(language),
            *(code for code in installed if code.split("_")[0] == language),
        ):
            if candidate in installed:
                return candidate
    return "en_US"
