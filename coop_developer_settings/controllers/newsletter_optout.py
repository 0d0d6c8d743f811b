# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Opt-outs posted back by the newsletter tools, one unguessable URL per
connection (registered by coop.newsletter.connection):

    GET  /coop/newsletter/mailchimp/<token>   Mailchimp's check of the URL
    POST /coop/newsletter/brevo/<token>       {"event": "unsubscribed", "email"}
    POST /coop/newsletter/mailchimp/<token>   type=unsubscribe|cleaned&data[email]

The address joins Odoo's mailing blacklist. Anything else is a 404 or 400
JSON answer and nothing is written.
"""

import json
import logging
import re

from odoo import http
from odoo.http import request

from ..models.coop_newsletter_connection import CLIENTS
from ..models.coop_newsletter_connection_optout import OPTOUT_ROUTE
from ..newsletter import provider
from .api_auth import json_response

# The largest opt-out a provider posts is well under this.
MAX_BODY = 64 * 1024
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
TOKEN_IN_PATH = re.compile(r"(/coop/newsletter/[^/\s]+/)[^\s?\"]+")
# The webhook is registered for "unsubscribed"; Brevo's documentation of the
# marketing payloads names the event "unsubscribe": both are opt-outs.
BREVO_EVENTS = {"unsubscribed", "unsubscribe"}
MAILCHIMP_EVENTS = {"unsubscribe", "cleaned"}


class HideOptoutTokens(logging.Filter):
    """The server's request log shows these paths without their token."""

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(
                TOKEN_IN_PATH.sub(r"\1[token]", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


logging.getLogger("werkzeug").addFilter(HideOptoutTokens())


def _error(status, code):
    return json_response({"error": code}, status=status)


def _brevo_address(httprequest):
    try:
        body = json.loads(httprequest.get_data(cache=False))
    except (ValueError, RecursionError):  # not JSON, or nested too deep
        return None
    if isinstance(body, dict) and body.get("event") in BREVO_EVENTS:
        return body.get("email")
    return None


def _mailchimp_address(httprequest, connection):
    form = httprequest.form
    list_id = form.get("data[list_id]")
    if form.get("type") in MAILCHIMP_EVENTS and list_id in (None, connection.list_id):
        return form.get("data[email]")
    return None


class NewsletterOptout(http.Controller):
    @http.route(
        OPTOUT_ROUTE.format(provider="<string:provider_name>", token="<string:token>"),
        type="http",
        auth="none",
        csrf=False,
        save_session=False,
        readonly=False,
        methods=["GET", "HEAD", "POST"],
    )
    def coop_newsletter_optout(self, provider_name, token, **_params):
        if provider_name not in CLIENTS or not TOKEN.match(token):
            return _error(404, "not_found")
        if request.httprequest.method != "POST":
            # Mailchimp checks the URL before the connection's transaction
            # commits its token: the answer writes and reveals nothing.
            if provider_name == "mailchimp":
                return json_response({"status": "ok"})
            return _error(404, "not_found")
        connection = (
            request.env["coop.newsletter.connection"]
            .sudo()
            ._by_optout_token(provider_name, token)
        )
        if not connection:
            return _error(404, "not_found")
        length = request.httprequest.content_length
        if length is None or length > MAX_BODY:
            return _error(400, "body_too_large_or_unsized")
        if provider_name == "brevo":
            address = _brevo_address(request.httprequest)
        else:
            address = _mailchimp_address(request.httprequest, connection)
        try:
            address = provider.normalise_email(
                address if isinstance(address, str) else ""
            )
        except provider.InvalidEmail:
            return _error(400, "not_an_opt_out")
        added = connection._receive_optout(address)
        return json_response({"status": "blacklisted" if added else "already"})
