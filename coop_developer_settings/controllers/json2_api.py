# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Odoo 19's external JSON-2 API, on this Odoo 18.

    POST /json/2/<model>/<method>
    Authorization: bearer <API key>
    X-Odoo-Database: <database>      (on a server with several databases)
    {"ids": [...], "context": {...}, <the method's named arguments>}

Clients written for Odoo 19 (n8n's Odoo node with its "API Key" credential,
odoo-client-lib's json2 protocol) work unchanged. As in Odoo 19:

- the key is a user's global key (Odoo's bearer check, scope ``rpc``): the
  scoped keys of the Developer settings are refused;
- the method runs as the key's user, with the body's context and nothing
  else, so the access rights and record rules are those of XML-RPC's
  ``execute_kw``; private methods (``_name``, ``@api.private``) are refused;
- a success is ``200`` with the method's result as JSON (records as ids), an
  error is a 4xx/5xx status with ``{"name", "message", "arguments",
  "context", "debug"}``; ``debug`` is left empty: tracebacks stay in the
  server log;
- each call is one transaction, rolled back on error.

Administrators switch it off in Settings › Developer settings (then 404).
"""

import inspect
from http import HTTPStatus

import werkzeug.exceptions

from odoo import http
from odoo.exceptions import AccessDenied, AccessError, MissingError, UserError
from odoo.http import request
from odoo.models import BaseModel
from odoo.service.model import get_public_method
from odoo.tools.translate import LazyTranslate

from ..webhook.schemas import DATABASE_HEADER
from .api_auth import (
    NO_DATABASE,
    UNKNOWN_DATABASE,
    bearer_token,
    request_lang,
)

_lt = LazyTranslate(__name__)

# The API key scope Odoo's own bearer authentication asks for: global keys
# (no scope) match it, scoped keys do not (res.users.apikeys._check_credentials).
RPC_SCOPE = "rpc"
# Odoo 19 gives each exception class its HTTP status (exceptions' http_status).
ODOO_ERROR_STATUSES = (
    (MissingError, HTTPStatus.NOT_FOUND),
    (AccessError, HTTPStatus.FORBIDDEN),
    (AccessDenied, HTTPStatus.FORBIDDEN),
    (UserError, HTTPStatus.UNPROCESSABLE_ENTITY),
)

INVALID_KEY = _lt(
    "Invalid API key: send 'Authorization: bearer <API key>' with a full-account "
    "key (the keys of one API of the Developer settings do not open this one)."
)
SWITCHED_OFF = _lt("The JSON-2 API is switched off on this server.")
NOT_POST = _lt("Use POST: POST /json/2/<model>/<method>.")
NO_SUCH_ROUTE = _lt("Did you mean POST /json/2/<model>/<method>?")
NOT_JSON = _lt("The body must be a JSON object (Content-Type: application/json).")
UNKNOWN_MODEL = _lt("The model %(model)s does not exist.")
IDS_ON_MODEL_METHOD = _lt("%(model)s.%(method)s is not called on records: send no ids.")
BAD_ARGUMENTS = _lt("Wrong arguments for %(model)s.%(method)s: %(error)s")
BAD_IDS_OR_CONTEXT = _lt("ids must be a list of record ids, and context a JSON object.")
INTERNAL_ERROR = _lt("Internal server error: see the server log.")


def json2_error(exc_class, status, message, arguments, headers=None):
    """Odoo 19's JSON-2 error answer (odoo.http.serialize_exception's shape)."""
    body = {
        "name": f"{exc_class.__module__}.{exc_class.__qualname__}",
        "message": message,
        "arguments": list(arguments),
        "context": {},
        "debug": "",
    }
    return request.make_json_response(body, headers=headers, status=status)


def translated(message, **args):
    """message in the request's language (Accept-Language): errors may come
    before the key, hence the user, is known."""
    return message._translate(request_lang()) % args


def http_error(exc_class, message, **args):
    return exc_class(translated(message, **args))


class Json2Dispatcher(http.Dispatcher):
    """Odoo 19's ``json2`` routing type: the JSON body's members are the
    endpoint's parameters, its return value is the answer, and every error
    is answered as JSON (see json2_error)."""

    routing_type = "coop_json2"

    @classmethod
    def is_compatible_with(cls, request):
        return True  # the body's type is checked in dispatch, answered as JSON

    def dispatch(self, endpoint, args):
        body = {}
        if self.request.httprequest.content_length:
            if self.request.httprequest.mimetype != "application/json":
                raise http_error(werkzeug.exceptions.BadRequest, NOT_JSON)
            try:
                body = self.request.get_json_data()
            except ValueError:
                raise http_error(werkzeug.exceptions.BadRequest, NOT_JSON) from None
            if not isinstance(body, dict):
                raise http_error(werkzeug.exceptions.BadRequest, NOT_JSON)
        self.request.params = {**body, **args}
        if self.request.db:
            result = self.request.registry["ir.http"]._dispatch(endpoint)
        else:
            result = endpoint(**self.request.params)
        if isinstance(result, http.Response):
            return result
        return self.request.make_json_response(result)

    def handle_error(self, exc):
        if isinstance(exc, werkzeug.exceptions.HTTPException):
            # Keep the headers (WWW-Authenticate, Allow), not the HTML type.
            headers = [
                header for header in exc.get_headers() if header[0] != "Content-Type"
            ]
            return json2_error(
                type(exc),
                exc.code,
                exc.description,
                (exc.description, exc.code),
                headers,
            )
        status = next(
            (status for cls, status in ODOO_ERROR_STATUSES if isinstance(exc, cls)),
            None,
        )
        if status:
            return json2_error(type(exc), status, exc.args[0], exc.args)
        message = translated(INTERNAL_ERROR)  # the exception's text may say too much
        return json2_error(
            type(exc), HTTPStatus.INTERNAL_SERVER_ERROR, message, [message]
        )


ROUTE = {
    "type": Json2Dispatcher.routing_type,
    "auth": "none",  # the key is checked by the endpoint, as Odoo 19 checks it
    "csrf": False,
    "save_session": False,
    # Not read-only: the method may write, and so does the key's "last used".
    "readonly": False,
}


class Json2Api(http.Controller):
    # Under /json/2, nothing falls through to Odoo 18's /json/<path> routes of
    # the web client (which answer with the login page).
    @http.route(["/json/2", "/json/2/<path:subpath>"], **ROUTE)
    def json2_not_found(self, subpath=None, **params):
        self._check_database_and_switch()
        raise http_error(werkzeug.exceptions.NotFound, NO_SUCH_ROUTE)

    @http.route("/json/2/<__model__>/<__method__>", **ROUTE)
    def json2(self, __model__, __method__, ids=(), context=None, **kwargs):
        """Call __method__ of __model__ as Odoo 19's JSON-2 API does."""
        if not request.db:
            return self._serve_in_named_database()
        self._check_database_and_switch()
        if request.httprequest.method != "POST":
            raise werkzeug.exceptions.MethodNotAllowed(
                ["POST"], description=translated(NOT_POST)
            )
        request.update_env(user=self._authenticate())
        model, method = __model__, __method__
        if model not in request.env:
            raise http_error(werkzeug.exceptions.NotFound, UNKNOWN_MODEL, model=model)
        context = context or {}
        if not (
            isinstance(context, dict)
            and isinstance(ids, list | tuple)
            and all(isinstance(id_, int) for id_ in ids)
        ):
            raise http_error(
                werkzeug.exceptions.UnprocessableEntity, BAD_IDS_OR_CONTEXT
            )
        # The body's context replaces the request's, as XML-RPC's call_kw does.
        records = request.env[model].with_context(context)  # pylint: disable=context-overridden
        try:
            func = get_public_method(records, method)  # AccessError when private
        except AttributeError as exc:
            raise werkzeug.exceptions.NotFound(exc.args[0]) from None
        if getattr(func, "_api", None) and ids:  # @api.model, @api.model_create
            raise http_error(
                werkzeug.exceptions.UnprocessableEntity,
                IDS_ON_MODEL_METHOD,
                model=model,
                method=method,
            )
        records = records.browse(ids)
        try:
            inspect.signature(func).bind(records, **kwargs)
        except TypeError as exc:
            raise http_error(
                werkzeug.exceptions.UnprocessableEntity,
                BAD_ARGUMENTS,
                model=model,
                method=method,
                error=exc.args[0],
            ) from None
        result = func(records, **kwargs)
        return result.ids if isinstance(result, BaseModel) else result

    def _check_database_and_switch(self):
        named = request.httprequest.headers.get(DATABASE_HEADER)
        if request.db and named and named != request.db:
            raise http_error(werkzeug.exceptions.NotFound, UNKNOWN_DATABASE, name=named)
        if (
            request.db
            and not request.env["ir.config_parameter"]._coop_json2_api_enabled()
        ):
            raise http_error(werkzeug.exceptions.NotFound, SWITCHED_OFF)

    def _serve_in_named_database(self):
        """Reached without a database when Odoo could not pick one (several
        databases, no dbfilter): only when this addon is loaded server-wide,
        as Odoo then routes here before opening a database."""
        named = request.httprequest.headers.get(DATABASE_HEADER)
        if not named:
            raise http_error(werkzeug.exceptions.BadRequest, NO_DATABASE)
        if named not in http.db_list(force=True):
            raise http_error(werkzeug.exceptions.NotFound, UNKNOWN_DATABASE, name=named)
        request.db = named
        return request._serve_db()

    def _authenticate(self):
        """The key's user, checked as Odoo's bearer authentication does."""
        token = bearer_token()
        uid = token and request.env["res.users.apikeys"]._check_credentials(
            scope=RPC_SCOPE, key=token
        )
        if not uid:
            raise werkzeug.exceptions.Unauthorized(
                translated(INVALID_KEY),
                www_authenticate=werkzeug.datastructures.WWWAuthenticate("bearer"),
            )
        return uid
