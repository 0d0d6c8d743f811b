# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Opt-outs back from the tool: a webhook registered at the provider
posts the list's unsubscribes to the addon's route (controllers/
newsletter_optout.py), which adds the address to Odoo's mailing blacklist."""

import hashlib
import hmac
import logging
import secrets

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, config

from ..newsletter import provider
from ..webhook import url_guard
from .coop_newsletter_connection import ALLOWED_NETWORKS_OPTION

_logger = logging.getLogger(__name__)

# Server configuration only: a plain-http web.base.url may receive the
# opt-out webhooks (the tests' server); never in production.
OPTOUT_ALLOW_HTTP_OPTION = "coop_newsletter_optout_allow_http"
# Where the providers post opt-outs; the token is the route's only secret.
OPTOUT_ROUTE = "/coop/newsletter/{provider}/{token}"
OPTOUT_TOKEN_BYTES = 32


class CoopNewsletterConnection(models.Model):
    _inherit = "coop.newsletter.connection"

    # The opt-out webhook registered at the provider. The SHA-256 of its
    # URL's token is in optout_token_hash, a column the ORM does not know
    # (see init); the token itself is only in the URL the provider holds.
    optout_webhook_id = fields.Char(
        string="Opt-out webhook id", readonly=True, copy=False
    )
    optout_status = fields.Char(
        string="Opt-outs from the tool",
        readonly=True,
        copy=False,
        help="Why opt-outs made in the tool do not come back to Odoo, if they do not.",
    )

    @api.model
    def _optout_base_url(self):
        """web.base.url when the provider can post to it (public https),
        else None."""
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url")
        try:
            return url_guard.check_url(
                base_url,
                allow_http=bool(config.get(OPTOUT_ALLOW_HTTP_OPTION)),
                allowed_networks=url_guard.parse_networks(
                    config.get(ALLOWED_NETWORKS_OPTION) or ""
                ),
            ).rstrip("/")
        except url_guard.UnsafeUrl:
            return None

    @api.model
    def _optout_token_hash(self, token):
        return hashlib.sha256(token.encode()).hexdigest()

    def _write_optout_token_hash(self, token_hash):
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                "UPDATE coop_newsletter_connection SET optout_token_hash = %s "
                "WHERE id = %s",
                token_hash,
                self.id,
            )
        )

    @api.model
    def _by_optout_token(self, provider_name, token):
        """The connected connection whose opt-out URL holds that token."""
        token_hash = self._optout_token_hash(token)
        self.env.cr.execute(
            SQL(
                "SELECT id, optout_token_hash FROM coop_newsletter_connection "
                "WHERE optout_token_hash = %s AND provider = %s "
                "AND state != 'disconnected'",
                token_hash,
                provider_name,
            )
        )
        row = self.env.cr.fetchone()
        if row and hmac.compare_digest(row[1], token_hash):
            return self.browse(row[0])
        return self.browse()

    def _register_optout_webhook(self):
        """Ask the provider to post the list's opt-outs to the addon's
        route; on failure, say why on the connection (never blocks)."""
        self.ensure_one()
        # What the owner reads in the tab: in the owner's language.
        owner = self.with_context(lang=self._owner_lang())
        base_url = self._optout_base_url()
        if not base_url:
            self.write(
                {
                    "optout_status": owner.env._(
                        "Opt-outs made in %(provider)s do not come back to Odoo: "
                        "the server's address (web.base.url) is not a public https "
                        "address. Set a public https web.base.url in the System "
                        "Parameters, then choose the list again.",
                        provider=self._provider_name(),
                    )
                }
            )
            return
        token = secrets.token_urlsafe(OPTOUT_TOKEN_BYTES)
        # Stored before the call: Mailchimp checks the URL during it.
        self._write_optout_token_hash(self._optout_token_hash(token))
        url = base_url + OPTOUT_ROUTE.format(provider=self.provider, token=token)
        try:
            with self._connected_client() as client:
                webhook_id = client.register_webhook(self.list_id, url)
        except provider.ProviderError as exc:
            self._write_optout_token_hash(None)
            self.write(
                {
                    "optout_status": owner.env._(
                        "Opt-outs made in the tool do not come back to Odoo: "
                        "%(reason)s Choose the list again to retry.",
                        reason=owner._error_text(exc),
                    ),
                }
            )
            return
        self.write({"optout_webhook_id": webhook_id, "optout_status": False})

    def _unregister_optout_webhook(self):
        """Best effort: a provider error is recorded, never raised."""
        self.ensure_one()
        if self.optout_webhook_id:
            try:
                with self._connected_client() as client:
                    client.unregister_webhook(self.list_id, self.optout_webhook_id)
            except (provider.ProviderError, UserError) as exc:
                message = (
                    self._error_text(exc)
                    if isinstance(exc, provider.ProviderError)
                    else str(exc.args[0])
                )
                self.write({"last_error": message[:500]})
                _logger.info(
                    "newsletter connection %s: opt-out webhook not removed: %s",
                    self.id,
                    message,
                )
        self._write_optout_token_hash(None)
        self.write({"optout_webhook_id": False})

    def _receive_optout(self, address):
        """An opt-out posted by the tool: the address joins Odoo's mailing
        blacklist (every connection, Odoo's mailings and API clients respect
        it). Already blacklisted: nothing written, so an echo changes
        nothing."""
        self.ensure_one()
        # The route has no user: the note is OdooBot's.
        Blacklist = self.env["mail.blacklist"].with_user(SUPERUSER_ID)
        if Blacklist.search_count([("email", "=", address)]):
            return False
        owner = self.with_context(lang=self._owner_lang())
        Blacklist._add(
            address,
            message=owner.env._(
                "Opted out in %(provider)s (account %(account)s, list %(list)s), "
                "received from the tool on %(date)s UTC.",
                provider=self._provider_name(),
                account=self.account_name,
                list=self.list_name,
                date=fields.Datetime.to_string(fields.Datetime.now()),
            ),
        )
        return True
