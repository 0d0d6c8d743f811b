# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A user's connection of one shop's buyer list to a Brevo or Mailchimp
list: the provider key (sealed), the list, and the sync's state."""

import dataclasses
import hashlib
import hmac
import logging
import math
import re
import secrets
from datetime import date

import psycopg2

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, config, mute_logger, sql

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import ENQUEUED, PENDING, STARTED

from ..newsletter import brevo, mailchimp, provider
from ..webhook import url_guard
from ..webhook.schemas import is_record_id
from .coop_buyer_sql import SINGLE_ADDRESS
from .res_users import GROUP_XMLID

try:  # optional: without it, only numbers already in E.164 are sent
    import phonenumbers
except ImportError:  # pragma: no cover - depends on the server
    phonenumbers = None

_logger = logging.getLogger(__name__)

MAX_CONNECTIONS_PER_USER = 10
# Buyers per page of the sync: one provider call (or a few) and one commit.
PAGE_SIZE = 1000
CLIENTS = {"brevo": brevo.BrevoClient, "mailchimp": mailchimp.MailchimpClient}
# Server configuration only (odoo.conf): an override of the provider's API
# address (the tests' fakes, a self-hosted proxy), and the private networks
# it may then be on. Never settable from the UI or over RPC.
BASE_URL_OPTIONS = {
    "brevo": "coop_newsletter_brevo_url",
    "mailchimp": "coop_newsletter_mailchimp_url",
}
ALLOWED_NETWORKS_OPTION = "coop_newsletter_allowed_networks"
# Server configuration only: a plain-http web.base.url may receive the
# opt-out webhooks (the tests' server); never in production.
OPTOUT_ALLOW_HTTP_OPTION = "coop_newsletter_optout_allow_http"
# Where the providers post opt-outs; the token is the route's only secret.
OPTOUT_ROUTE = "/coop/newsletter/{provider}/{token}"
OPTOUT_TOKEN_BYTES = 32
KEY_HINT_LENGTH = 4
# What separates the digits of a phone number written by hand.
PHONE_SEPARATORS = re.compile(r"[\s.\-()/]")
# Only the connection's own actions change them (in superuser mode, after
# their checks), never a plain write.
LIFECYCLE_FIELDS = frozenset(
    {
        "user_id",
        "provider",
        "account_name",
        "key_hint",
        "list_id",
        "list_name",
        "state",
        "disconnected_reason",
        "sync_cursor",
        "last_sync_at",
        "failing_since",
        "last_error",
        "last_sync_subscribed",
        "last_sync_opted_out",
        "last_sync_removed",
        "last_sync_rejected",
        "last_sync_skipped_none",
        "last_sync_skipped_several",
        "optout_webhook_id",
        "optout_status",
    }
)
COUNTS = {
    "subscribed": "last_sync_subscribed",
    "opted_out": "last_sync_opted_out",
    "removed": "last_sync_removed",
    "rejected": "last_sync_rejected",
    "none": "last_sync_skipped_none",
    "several": "last_sync_skipped_several",
}


class CoopNewsletterConnection(models.Model):
    """One shop's buyers kept in a Brevo list or a Mailchimp audience."""

    _name = "coop.newsletter.connection"
    _description = "Newsletter tool connection"
    _inherit = ["coop.sealed.mixin"]
    _order = "id"
    _rec_name = "account_name"
    # The provider key, encrypted (coop.secret.vault) in a column the ORM
    # does not know (coop.sealed.mixin): no read, export, tracking or log
    # returns it, administrators' included. Only its last characters are shown.
    _coop_sealed_columns = ("api_key_sealed",)

    user_id = fields.Many2one(
        "res.users",
        string="Owner",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
        default=lambda self: self.env.user,
    )
    provider = fields.Selection(
        [("brevo", "Brevo"), ("mailchimp", "Mailchimp")],
        required=True,
        readonly=True,
    )
    account_name = fields.Char(string="Account", readonly=True)
    key_hint = fields.Char(
        string="API key",
        readonly=True,
        help="The last characters of the API key: the key itself is never shown again.",
    )
    company_id = fields.Many2one(
        "res.company",
        string="Shop",
        required=True,
        ondelete="cascade",
        help="The shop whose buyers are synced.",
    )
    list_id = fields.Char(string="List id", readonly=True)
    list_name = fields.Char(string="List", readonly=True)
    state = fields.Selection(
        [
            ("connected", "Connected"),
            ("syncing", "Syncing"),
            ("failing", "Failing"),
            ("disconnected", "Disconnected"),
        ],
        default="connected",
        required=True,
        readonly=True,
    )
    disconnected_reason = fields.Char(readonly=True)
    # The buyer API's cursor: where the next page starts (a sync under way)
    # or what changed since the last sync (its sync_cursor). It moves only
    # once the provider accepted the page before it.
    sync_cursor = fields.Char(readonly=True, copy=False)
    last_sync_at = fields.Datetime(string="Last sync", readonly=True, copy=False)
    failing_since = fields.Datetime(readonly=True, copy=False)
    last_error = fields.Char(string="Provider's last error", readonly=True, copy=False)
    last_sync_subscribed = fields.Integer(string="Subscribed", readonly=True)
    last_sync_opted_out = fields.Integer(string="Opted out", readonly=True)
    last_sync_removed = fields.Integer(string="Removed", readonly=True)
    last_sync_rejected = fields.Integer(string="Refused by the provider", readonly=True)
    last_sync_skipped_none = fields.Integer(
        string="Skipped: no valid address", readonly=True
    )
    last_sync_skipped_several = fields.Integer(
        string="Skipped: several addresses", readonly=True
    )
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

    # ------------------------------------------------------------------
    # The provider's client and key
    # ------------------------------------------------------------------

    def init(self):
        if not sql.column_exists(self.env.cr, self._table, "optout_token_hash"):
            sql.create_column(self.env.cr, self._table, "optout_token_hash", "varchar")
        sql.create_unique_index(
            self.env.cr,
            "coop_newsletter_connection_optout_token_hash_index",
            self._table,
            ["optout_token_hash"],
        )

    @api.model
    def _client(self, provider_name, key):
        """The provider's client; its address override and networks come
        from the server configuration only."""
        options = {}
        base_url = config.get(BASE_URL_OPTIONS[provider_name])
        if base_url:
            options["base_url"] = base_url
            options["allowed_networks"] = url_guard.parse_networks(
                config.get(ALLOWED_NETWORKS_OPTION) or ""
            )
        return CLIENTS[provider_name](key, **options)

    def _write_key(self, key):
        """Seal and store the key (None: forget it)."""
        self._coop_store_sealed({"api_key_sealed": key})

    def _key(self):
        """The provider key, in clear: for the provider's requests only."""
        (sealed,) = self._coop_read_sealed("api_key_sealed")
        if not sealed:
            raise UserError(
                self.env._(
                    "This connection has no API key any more: connect it again "
                    "with the key."
                )
            )
        return self._coop_unseal("api_key_sealed", sealed)

    def _connected_client(self):
        self.ensure_one()
        return self._client(self.provider, self._key())

    def _error_text(self, error):
        """A provider error as the user reads it."""
        if error.code == "wrong_key":
            return self.env._(
                "%(provider)s refused this API key: check that you copied the whole "
                "key, and that it is still active in your account.",
                provider=error.provider,
            )
        if error.code == "rate_limited":
            return self.env._(
                "%(provider)s limits the requests: try again in %(seconds)s seconds.",
                provider=error.provider,
                seconds=math.ceil(error.reset),
            )
        if error.code == "timeout":
            return self.env._(
                "%(provider)s did not answer in time: try again later.",
                provider=error.provider,
            )
        if error.code == "unreachable":
            return self.env._(
                "%(provider)s cannot be reached (%(reason)s): try again later.",
                provider=error.provider,
                reason=error.message,
            )
        if error.code == "malformed_answer":
            return self.env._(
                "%(provider)s sent an answer that cannot be read (%(reason)s).",
                provider=error.provider,
                reason=error.message,
            )
        return self.env._(
            "%(provider)s answered: %(message)s",
            provider=error.provider,
            message=error.message,
        )

    # ------------------------------------------------------------------
    # Connect, lists, disconnect
    # ------------------------------------------------------------------

    def _check_owner(self, user):
        if not (user.active and user.sudo()._has_group(GROUP_XMLID)):
            raise ValidationError(
                self.env._(
                    "%(user)s cannot own newsletter connections: only active users "
                    "with Developer settings access can.",
                    user=user.name,
                )
            )

    def _check_company_value(self, owner, company_id):
        company = self.env["res.company"]
        if is_record_id(company_id):
            company = company.sudo().browse(company_id).exists()
        if not company or company not in owner.sudo().company_ids:
            raise ValidationError(
                self.env._("Choose a shop among those the owner is allowed on.")
            )

    def _refuse_lifecycle_fields(self, vals, allowed=()):
        touched = sorted((LIFECYCLE_FIELDS - set(allowed)) & set(vals))
        if touched and not self.env.su:
            raise AccessError(
                self.env._(
                    "The owner, the provider, the list and the state of a newsletter "
                    "connection only change through its buttons (Connect, Choose the "
                    "list, Sync now, Disconnect). Refused: %(fields)s.",
                    fields=", ".join(touched),
                )
            )

    def _check_key_value(self, provider_name, key):
        """The account's name, once the provider accepted the key; a
        ValidationError (nothing written) otherwise."""
        if provider_name not in CLIENTS:
            raise ValidationError(self.env._("Choose Brevo or Mailchimp."))
        if not key or not isinstance(key, str):
            raise ValidationError(
                self.env._(
                    "Paste the API key of your %(provider)s account.",
                    provider=dict(self._fields["provider"].selection)[provider_name],
                )
            )
        try:
            with self._client(provider_name, key) as client:
                return client.check_key()
        except provider.ProviderError as exc:
            raise ValidationError(self._error_text(exc)) from None

    @api.model_create_multi
    def create(self, vals_list):
        """Connect: the key (``api_key``, never stored in clear) is checked
        against the provider first; a refused key creates nothing."""
        if not self.env.su:
            self.env.user._coop_check_developer_access()
        is_admin = self.env.su or self.env.user.has_group("base.group_system")
        keys = []
        for vals in vals_list:
            key = vals.pop("api_key", None)
            self._refuse_lifecycle_fields(vals, allowed=("user_id", "provider"))
            owner_id = vals.get("user_id", self.env.uid)
            owner = self.env["res.users"]
            if is_record_id(owner_id):
                owner = owner.browse(owner_id).exists()
            if owner_id != self.env.uid and not is_admin:
                raise AccessError(
                    self.env._("You can only connect your own newsletter tools.")
                )
            self._check_owner(owner)
            self._check_company_value(owner, vals.get("company_id"))
            key = (key or "").strip() if isinstance(key, str) else key
            vals["account_name"] = self._check_key_value(vals.get("provider"), key)
            vals["key_hint"] = key[-KEY_HINT_LENGTH:]
            keys.append(key)
        connections = super().create(vals_list)
        for connection, key in zip(connections, keys, strict=True):
            connection._write_key(key)
        return connections

    def write(self, vals):
        self._refuse_lifecycle_fields(vals)
        if "company_id" in vals:
            for connection in self:
                self._check_company_value(connection.user_id, vals["company_id"])
            # Another shop: its buyers are imported from the start.
            vals = {**vals, "sync_cursor": False}
        return super().write(vals)

    def unlink(self):
        # The provider would go on posting opt-outs to a dead URL.
        for connection in self.sudo().filtered("optout_webhook_id"):
            connection._unregister_optout_webhook()
        return super().unlink()

    @api.constrains("user_id")
    def _check_cap(self):
        for connection in self:
            count = self.sudo().search_count([("user_id", "=", connection.user_id.id)])
            if count > MAX_CONNECTIONS_PER_USER:
                raise ValidationError(
                    self.env._(
                        "At most %(max)s newsletter connections per user.",
                        max=MAX_CONNECTIONS_PER_USER,
                    )
                )

    @api.model
    def coop_connect(self, provider_name, api_key, company_id):
        """Connect of the tab: the new connection's id and account name."""
        connection = self.create(
            {"provider": provider_name, "api_key": api_key, "company_id": company_id}
        )
        return {"id": connection.id, "account_name": connection.account_name}

    def coop_lists(self):
        """The provider's lists (Brevo) or audiences (Mailchimp), to choose
        the one synced: [{id, name, members}]."""
        self.ensure_one()
        self.check_access("read")
        try:
            with self.sudo()._connected_client() as client:
                found = client.lists()
        except provider.ProviderError as exc:
            raise UserError(self._error_text(exc)) from None
        return [
            {"id": item.id, "name": item.name, "members": item.members}
            for item in found
        ]

    def action_set_list(self, list_id):
        """Sync into that list (one of coop_lists()), from the start."""
        self.ensure_one()
        self.check_access("write")
        self._check_connected()
        chosen = [item for item in self.coop_lists() if item["id"] == str(list_id)]
        if not chosen:
            raise ValidationError(
                self.env._("This list is not one of the account's lists.")
            )
        connection = self.sudo()
        connection._unregister_optout_webhook()
        connection.write(
            {"list_id": chosen[0]["id"], "list_name": chosen[0]["name"]}
            | {"sync_cursor": False}
        )
        connection._register_optout_webhook()
        return True

    # ------------------------------------------------------------------
    # Opt-outs back from the tool: a webhook at the provider
    # ------------------------------------------------------------------

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

    def _owner_lang(self):
        return self.user_id.lang or "en_US"

    def _provider_name(self):
        return dict(self._fields["provider"]._description_selection(self.env))[
            self.provider
        ]

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

    def _check_connected(self):
        for connection in self:
            if connection.state == "disconnected":
                raise UserError(
                    self.env._(
                        "This connection is disconnected: connect the tool again "
                        "with its API key."
                    )
                )

    def action_disconnect(self):
        self.check_access("write")
        self._disconnect(self.env._("Disconnected by hand."))
        return True

    def _disconnect(self, reason):
        """Stop syncing and forget the key; the provider keeps its contacts."""
        for connection in self.sudo():
            connection._unregister_optout_webhook()
            connection.write({"state": "disconnected", "disconnected_reason": reason})
            connection._write_key(None)

    # ------------------------------------------------------------------
    # The sync: pages of the buyer API, as queue_job jobs
    # ------------------------------------------------------------------

    def action_sync_now(self):
        self.check_access("write")
        self._check_connected()
        for connection in self:
            if not connection.list_id:
                raise UserError(self.env._("Choose the list to sync into first."))
        self.sudo().filtered(lambda c: c.state != "failing").write({"state": "syncing"})
        self._enqueue_sync()
        return True

    def _enqueue_sync(self):
        """Queue the first page of each one's sync, unless its sync has a
        job waiting or running (a second chain would send the same pages
        again and reset the counts); returns those queued."""
        connections = self.sudo() - self.sudo()._with_sync_job()
        for connection in connections:
            connection.with_delay(
                identity_key=_sync_identity,
                description=self.env._(
                    "Newsletter sync of %(account)s", account=connection.account_name
                ),
            )._sync_job(first=True)
        return connections

    def _with_sync_job(self):
        """Those whose sync has a job waiting or running: queue_job's
        identity check sees only the waiting ones."""
        keys = {_sync_identity_key(connection.id): connection for connection in self}
        jobs = (
            self.env["queue.job"]
            .sudo()
            .search(
                [
                    ("identity_key", "in", list(keys)),
                    ("state", "in", [PENDING, ENQUEUED, STARTED]),
                ]
            )
        )
        return self.browse([keys[job.identity_key].id for job in jobs])

    @api.model
    def _cron_sync(self):
        """Every connection with a list, from its cursor; those still shown
        syncing too (a job that crashed past its retries would leave them
        so for good), unless a job of their sync is still under way."""
        connections = self.sudo().search(
            [("state", "!=", "disconnected"), ("list_id", "!=", False)]
        )
        return connections._enqueue_sync()

    def _sync_job(self, first=False):
        """One page of the buyer list into the provider; the next page in a
        job of its own (each page commits with its job)."""
        connection = self.sudo().exists()
        if not connection or connection.state == "disconnected":
            return "disconnected"
        if not connection.list_id:
            return "no list"
        connection._lock()
        more = connection._sync_page(first)
        if more:
            connection.with_delay(identity_key=_sync_identity)._sync_job()
        return "more" if more else "done"

    def _lock(self):
        """One page of a connection at a time: another job waits its turn."""
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM coop_newsletter_connection WHERE id = %s "
                        "FOR NO KEY UPDATE NOWAIT",
                        self.id,
                    )
                )
        except psycopg2.errors.LockNotAvailable:
            # Waiting its turn is not a try: it must not use up max_retries.
            raise RetryableJobError(
                "another page of this connection is being synced",
                seconds=5,
                ignore_retry=True,
            ) from None
        self.invalidate_recordset()

    def _sync_page(self, first=False):
        """Send one page; move the cursor once the provider accepted it.
        Provider errors are recorded on the connection (the cursor stays).
        Returns whether more pages follow."""
        self.ensure_one()
        try:
            page = self._buyer_page()
        except UserError as exc:  # the owner lost the shop, a bad cursor
            self._record_failure(str(exc.args[0]))
            return False
        contacts, counts = self._contacts(page["data"])
        try:
            result = provider.SyncResult()
            if contacts:
                with self._connected_client() as client:
                    result = client.upsert_contacts(self.list_id, contacts)
        except provider.RateLimited as exc:
            raise RetryableJobError(
                exc.message, seconds=math.ceil(exc.reset) + 1, ignore_retry=True
            ) from None
        except provider.ProviderError as exc:
            self._record_failure(f"{exc.provider}: {exc.message}")
            return False
        except UserError as exc:  # no key any more, or it cannot be opened
            self._record_failure(str(exc.args[0]))
            return False
        counts.update(
            subscribed=result.subscribed,
            opted_out=result.opted_out,
            removed=result.removed,
            rejected=len(result.rejected),
        )
        more = bool(page["next_cursor"])
        values = {
            "sync_cursor": page["next_cursor"] or page["sync_cursor"],
            "state": "syncing" if more else "connected",
            "failing_since": False,
            "last_error": False,
        }
        for name, column in COUNTS.items():
            values[column] = counts[name] + (0 if first else self[column])
        if not more:
            values["last_sync_at"] = fields.Datetime.now()
        self.write(values)
        return more

    def _record_failure(self, message):
        self.write(
            {
                "state": "failing",
                "failing_since": self.failing_since or fields.Datetime.now(),
                "last_error": message[:500],
            }
        )
        _logger.info(
            "newsletter connection %s: sync failed, cursor kept: %s", self.id, message
        )

    def _buyer_page(self):
        """The next page of the shop's buyers, read with the owner's rights."""
        owner_env = self.env(user=self.user_id.id, su=False, context={})
        return owner_env["coop.buyer"]._buyer_page(
            company_id=self.company_id.id,
            cursor=self.sync_cursor or None,
            limit=PAGE_SIZE,
        )

    def _contacts(self, rows):
        """(contacts, counts of the skipped): one contact per address. When
        buyers share an address, an active buyer wins over a removed one,
        then the latest order; an address opted out stays opted out. A
        former address is taken off the list only when no buyer of the shop
        has it any more."""
        counts = dict.fromkeys(COUNTS, 0)
        partners = {
            partner.id: partner
            for partner in self.env["res.partner"]
            .sudo()
            .browse({row["partner_id"] for row in rows} - {None, False})
            .exists()
        }
        by_address = {}
        previous = {}  # address: the former addresses of its rows
        for row in rows:
            try:
                address = _row_address(row)
            except provider.InvalidEmail as exc:
                counts[exc.reason] += 1
                continue
            contact = self._contact(address, row, partners.get(row["partner_id"]))
            if contact.moved:
                previous.setdefault(address, []).append(contact.previous_email)
            kept = by_address.get(address)
            if kept is not None:
                opted_out = provider.OPTED_OUT in (kept.state, contact.state)
                contact = max(kept, contact, key=_rank)
                if opted_out and contact.state == provider.SUBSCRIBED:
                    contact = dataclasses.replace(contact, state=provider.OPTED_OUT)
            by_address[address] = contact
        removed = [
            address
            for address, contact in by_address.items()
            if contact.state == provider.REMOVED
        ]
        former = {old for olds in previous.values() for old in olds}
        still_bought = self._addresses_still_bought(removed + sorted(former))
        # Another active buyer of the shop still has the address: it stays.
        for address in still_bought.intersection(removed):
            del by_address[address]
        # A former address is taken off once, and only when no buyer of the
        # page or of the shop has it any more; a row that lost the dedup
        # passes its own to the winner, or to a removal of its own.
        to_take_off = former - set(by_address) - still_bought
        contacts = []
        for address, contact in by_address.items():
            olds = [old for old in previous.get(address, ()) if old in to_take_off]
            if contact.previous_email not in olds:
                contact = dataclasses.replace(
                    contact, previous_email=olds[0] if olds else None
                )
            to_take_off.discard(contact.previous_email)
            contacts.append(contact)
        contacts += [
            provider.Contact(old, state=provider.REMOVED) for old in sorted(to_take_off)
        ]
        return contacts, counts

    def _addresses_still_bought(self, addresses):
        """Those an active buyer of the shop has, by the rule of the pages:
        the buyer's one address (none when the field holds several)."""
        if not addresses:
            return set()
        self.env.flush_all()  # the buyer rows are written by triggers
        single = SQL(SINGLE_ADDRESS.format(row="b"))  # pylint: disable=sql-injection
        rows = self.env.execute_query(
            SQL(
                "SELECT DISTINCT %s FROM coop_buyer b WHERE b.company_id = %s "
                "AND b.active AND b.email_normalized = ANY(%s) AND %s = ANY(%s)",
                single,
                self.company_id.id,
                list(addresses),
                single,
                list(addresses),
            )
        )
        return {address for (address,) in rows}

    def _contact(self, address, row, partner):
        previous = row.get("previous_email")
        if previous:
            try:
                previous = provider.normalise_email(previous)
            except provider.InvalidEmail:
                previous = None
        if row.get("removed"):
            return provider.Contact(
                address, state=provider.REMOVED, previous_email=previous or None
            )
        first, last = _split_name(row.get("name") or "", partner)
        country = (
            partner and partner.country_id.code
        ) or self.company_id.country_id.code
        return provider.Contact(
            address,
            state=provider.OPTED_OUT if row.get("opt_out") else provider.SUBSCRIBED,
            first_name=first,
            last_name=last,
            phone=_e164(row.get("phone"), country),
            shop=row["company"]["name"] or "",
            first_order=_date(row.get("first_order_date")),
            last_order=_date(row.get("last_order_date")),
            order_count=row.get("order_count") or 0,
            last_cycle=(row.get("last_cycle") or {}).get("name") or "",
            previous_email=previous or None,
        )


def _row_address(row):
    """The page's own address of the buyer (its email_normalized), the one
    the still-bought check compares; InvalidEmail (none, several) when the
    page has none or the provider would not take it."""
    address = row.get("email_normalized")
    if not address:
        provider.normalise_email(row.get("email"))  # raises with the reason
        raise provider.InvalidEmail("none")
    try:
        valid = provider.normalise_email(address) == address
    except provider.InvalidEmail:
        valid = False
    if not valid:
        raise provider.InvalidEmail("none")
    return address


def _sync_identity_key(connection_id):
    """One sync job per connection, whatever its arguments (first or not)."""
    text = f"coop.newsletter.connection,{connection_id},_sync_job"
    return hashlib.sha1(text.encode()).hexdigest()


def _sync_identity(job_):
    return _sync_identity_key(job_.recordset.id)


def _rank(contact):
    return (contact.state != provider.REMOVED, contact.last_order or date.min)


def _split_name(name, partner):
    """(first, last): a person's first word and the rest; a company's name
    whole, as the first name (what greetings use)."""
    name = " ".join(name.split())
    if partner and partner.is_company:
        return name, ""
    first, _space, last = name.partition(" ")
    return first, last


def _e164(phone, country):
    """The number in E.164, or None when it does not parse."""
    if not phone:
        return None
    if phonenumbers is None:
        compact = PHONE_SEPARATORS.sub("", phone)
        return compact if provider.E164.match(compact) else None
    try:
        number = phonenumbers.parse(phone, country or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _date(value):
    return fields.Datetime.to_datetime(value).date() if value else None
