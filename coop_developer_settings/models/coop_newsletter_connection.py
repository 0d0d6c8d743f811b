# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A user's connection of one shop's buyer list to a Brevo or Mailchimp
list: the provider key (sealed), the list, connect and disconnect. The
opt-out webhook and the sync are in coop_newsletter_connection_optout.py
and coop_newsletter_connection_sync.py."""

import math

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import config, sql

from ..newsletter import brevo, mailchimp, provider
from ..webhook import url_guard
from ..webhook.schemas import is_record_id
from .res_users import GROUP_XMLID

MAX_CONNECTIONS_PER_USER = 10
CLIENTS = {"brevo": brevo.BrevoClient, "mailchimp": mailchimp.MailchimpClient}
# Server configuration only (odoo.conf): an override of the provider's API
# address (the tests' fakes, a self-hosted proxy), and the private networks
# it may then be on. Never settable from the UI or over RPC.
BASE_URL_OPTIONS = {
    "brevo": "coop_newsletter_brevo_url",
    "mailchimp": "coop_newsletter_mailchimp_url",
}
ALLOWED_NETWORKS_OPTION = "coop_newsletter_allowed_networks"
# Seconds of a job's time limit (limit_time_real) kept for what a sync job
# does besides following the provider's asynchronous work (Brevo's imports,
# Mailchimp's batch operations): reading the buyers, the other requests.
FOLLOW_MARGIN = 30
# Only the connection's own actions change them (in superuser mode, after
# their checks), never a plain write.
LIFECYCLE_FIELDS = frozenset(
    {
        "user_id",
        "provider",
        "account_name",
        "account_id",
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
        "warned_failing_since",
    }
)


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
    # Empty on the connections made before it was recorded (see
    # _same_account_domain).
    account_id = fields.Char(
        string="Account id",
        readonly=True,
        help="The tool's own identifier of the account (Brevo's organization, "
        "Mailchimp's account): it stays the same when the account is renamed.",
    )
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
        from the server configuration only. It follows the provider's
        asynchronous work within the workers' time limit (a job killed by it
        would leave no readable error)."""
        options = {}
        limit = config["limit_time_real"]
        if limit > 0:
            options["follow_deadline"] = max(
                1, min(provider.FOLLOW_DEADLINE, limit - FOLLOW_MARGIN)
            )
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
        """The key's account (provider.ProviderAccount), once the provider
        accepted the key; a ValidationError (nothing written) otherwise."""
        if not isinstance(provider_name, str) or provider_name not in CLIENTS:
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
            account = self._check_key_value(vals.get("provider"), key)
            vals["account_id"] = account.id
            vals["account_name"] = account.name
            vals["key_hint"] = CLIENTS[vals["provider"]].key_hint(key)
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
        # Removed while connected (over RPC; the tab removes disconnected
        # ones): disconnected first, else its newsletters scheduled at the
        # provider would still go out and the provider would go on posting
        # opt-outs to a dead URL. The rights first: what the provider did
        # cannot be rolled back with a refused deletion.
        self.check_access("unlink")
        self.sudo().filtered(lambda c: c.state != "disconnected")._disconnect(
            self.env._("Removed.")
        )
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
        connection._ensure_list_fields(chosen[0]["id"])
        connection._unregister_optout_webhook()
        connection.write(
            {"list_id": chosen[0]["id"], "list_name": chosen[0]["name"]}
            | {"sync_cursor": False}
        )
        connection._register_optout_webhook()
        return True

    def _owner_lang(self):
        return self.user_id.lang or "en_US"

    def _provider_name(self):
        return dict(self._fields["provider"]._description_selection(self.env))[
            self.provider
        ]

    @api.model
    def _working_domain(self):
        """The connections that sync and send: a list, not disconnected,
        and an owner who may (active, with the access: removed with the
        keys kept on request, it leaves them idle, as their webhooks)."""
        return [
            ("state", "!=", "disconnected"),
            ("list_id", "!=", False),
            ("user_id.active", "=", True),
            ("user_id.groups_id", "in", self.env.ref(GROUP_XMLID).ids),
        ]

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
