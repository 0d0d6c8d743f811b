# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import math
from datetime import timedelta

import psycopg2
from markupsafe import Markup

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, mute_logger, sql

from odoo.addons.base.models.res_users import check_identity
from odoo.addons.queue_job.exception import RetryableJobError

from ..webhook import signing, url_guard
from ..webhook.schemas import (
    MAX_LEAD_TIME_HOURS,
    MIN_LEAD_TIME_HOURS,
    is_record_id,
)
from .coop_secret_vault import SecretUnreadable
from .coop_webhook_delivery import (
    ALL_STATES,
    CHANNEL,
    IN_FLIGHT,
    LOCKED_RETRY,
    MAX_RESEND,
)
from .res_users import GROUP_XMLID

MAX_ENDPOINTS_PER_TYPE = 10
ROTATION_OVERLAP = timedelta(hours=24)
# Reminders: how long before the date, per endpoint (1 hour to 7 days).
DEFAULT_LEAD_TIME_HOURS = 24
# The health shown in the tab counts the deliveries of the last days.
HEALTH_DAYS = 7
# The tab's delivery log: at most that many rows per call.
MAX_TAB_DELIVERIES = 200
# Ownership and lifecycle: only the model's own actions change them (in
# superuser mode, after their own checks), never a plain write, whoever
# calls it: an owner could otherwise hand an endpoint to a user of another
# company, or keep it from ever being disabled.
LIFECYCLE_FIELDS = frozenset(
    {
        "active",
        "user_id",
        "event_type_id",
        "event_type",
        "state",
        "disabled_reason",
        "enabled_at",
        "previous_secret_until",
        "last_manual_send_at",
        "disabled_at",
        "warned_failing_since",
    }
)


class TooManySends(UserError):
    """A manual send refused by the rate limit. The tab shows its message;
    the API answers 429 with a Retry-After of ``retry_after`` seconds."""

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


class CoopWebhookEndpoint(models.Model):
    """Where a user wants one type of event sent: a URL and its secret."""

    _name = "coop.webhook.endpoint"
    _description = "Webhook endpoint"
    _inherit = ["mail.thread"]
    _order = "event_type_id, id"
    _rec_name = "url"
    # The signing secrets, encrypted (coop.secret.vault) in columns the ORM
    # does not know (see init): no read, export, tracking or log can return
    # them, administrators' included. Owners and administrators see one
    # through Secret, after their password (action_reveal_secret).
    _coop_sealed_columns = ("secret_sealed", "previous_secret_sealed")

    user_id = fields.Many2one(
        "res.users",
        string="Owner",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
        default=lambda self: self.env.user,
    )
    event_type_id = fields.Many2one(
        "coop.webhook.event.type",
        string="Event",
        required=True,
        ondelete="restrict",
        domain=[("subscribable", "=", True)],
    )
    event_type = fields.Char(related="event_type_id.code", store=True, index=True)
    event_type_has_lead_time = fields.Boolean(related="event_type_id.has_lead_time")
    # Not tracked, and never in a message: the chatter stays readable by
    # the next owner, and a URL may carry the receiver's token.
    url = fields.Char(string="URL", required=True)
    lead_time_hours = fields.Integer(
        string="Lead time (hours)",
        default=DEFAULT_LEAD_TIME_HOURS,
        required=True,
        tracking=True,
        help="Reminders (opening soon, closing soon): how many hours before the "
        "date they are sent, from 1 to 168 (7 days).",
    )
    # Unset by a delete that found a job sending one of its deliveries: the
    # endpoint is gone for everyone (not listed, not counted, sent nothing)
    # until the job ends and _remove_deleted removes it (see unlink).
    active = fields.Boolean(default=True, readonly=True, copy=False)
    state = fields.Selection(
        [("enabled", "Enabled"), ("disabled", "Disabled")],
        default="enabled",
        required=True,
        readonly=True,
        tracking=True,
    )
    disabled_reason = fields.Char(readonly=True)
    disabled_at = fields.Datetime(readonly=True, copy=False)
    previous_secret_until = fields.Datetime(
        readonly=True, copy=False, help="The old secret also signs until then."
    )
    # Health: derived from the attempts, never written by deliveries
    # (concurrent deliveries to one endpoint must not contend for its row),
    # computed for all the endpoints shown at once.
    failing_since = fields.Datetime(
        compute="_compute_health",
        help="First failed attempt since the last success (or since the endpoint "
        "was enabled): after the configured number of days, it is disabled.",
    )
    disable_on = fields.Datetime(
        string="Disabled on",
        compute="_compute_health",
        help="When it will be disabled if its deliveries keep failing.",
    )
    last_attempt_at = fields.Datetime(string="Last delivery", compute="_compute_health")
    last_attempt_status = fields.Integer(
        string="Last HTTP status",
        compute="_compute_health",
        help="0: no HTTP answer (see the error).",
    )
    last_attempt_ok = fields.Boolean(
        string="Last delivery OK", compute="_compute_health"
    )
    last_attempt_error = fields.Char(
        string="Last error",
        compute="_compute_health",
        help="The error of the last delivery attempt, or the start of the answer.",
    )
    recent_done_count = fields.Integer(
        string="Delivered (7 days)", compute="_compute_health"
    )
    recent_failed_count = fields.Integer(
        string="Failed (7 days)", compute="_compute_health"
    )
    # Once per failing streak: the failing_since of the streak warned about.
    warned_failing_since = fields.Datetime(readonly=True, copy=False)
    web_url = fields.Char(string="Link", compute="_compute_web_url")
    enabled_at = fields.Datetime(readonly=True, copy=False, default=fields.Datetime.now)
    last_manual_send_at = fields.Datetime(
        string="Last manual send",
        readonly=True,
        copy=False,
        help="Last Send test event or Redeliver: they are limited per endpoint.",
    )
    delivery_ids = fields.One2many("coop.webhook.delivery", "endpoint_id")
    delivery_count = fields.Integer(compute="_compute_delivery_counts")
    failed_delivery_count = fields.Integer(compute="_compute_delivery_counts")

    def _compute_health(self):
        settings = self.env["ir.config_parameter"]._coop_webhook_settings()
        failing = self._failing_since_by_id()
        last = self._last_attempt_by_id()
        recent = self._recent_counts_by_id()
        for endpoint in self:
            since = failing.get(endpoint.id)
            endpoint.failing_since = since
            endpoint.disable_on = (
                since + timedelta(days=settings.disable_after_days)
                if since and endpoint.state == "enabled"
                else False
            )
            at, status, error = last.get(endpoint.id, (False, 0, False))
            endpoint.last_attempt_at = at
            endpoint.last_attempt_status = status
            endpoint.last_attempt_ok = bool(at) and 200 <= status <= 299
            endpoint.last_attempt_error = error
            endpoint.recent_done_count, endpoint.recent_failed_count = recent.get(
                endpoint.id, (0, 0)
            )

    def _failing_since_by_id(self):
        """{endpoint id: its first failed attempt since its last success (or
        since it was enabled)}, for the failing ones among self: one query."""
        ids = [endpoint_id for endpoint_id in self.ids if endpoint_id]
        if not ids:
            return {}
        self.env["coop.webhook.attempt"].flush_model()
        self.flush_recordset(["enabled_at"])
        self.env.cr.execute(
            SQL(
                """
                WITH attempts AS (
                    SELECT d.endpoint_id, a.attempted_at,
                           COALESCE(a.status_code BETWEEN 200 AND 299, false) AS ok
                      FROM coop_webhook_attempt a
                      JOIN coop_webhook_delivery d ON d.id = a.delivery_id
                      JOIN coop_webhook_endpoint e ON e.id = d.endpoint_id
                     WHERE d.endpoint_id = ANY(%s)
                       AND a.attempted_at >= COALESCE(e.enabled_at, e.create_date)
                ), last_success AS (
                    SELECT endpoint_id, MAX(attempted_at) AS attempted_at
                      FROM attempts WHERE ok GROUP BY endpoint_id
                )
                SELECT a.endpoint_id, MIN(a.attempted_at)
                  FROM attempts a
                  LEFT JOIN last_success s ON s.endpoint_id = a.endpoint_id
                 WHERE NOT a.ok
                   AND a.attempted_at > COALESCE(s.attempted_at, '-infinity')
                 GROUP BY a.endpoint_id
                """,
                ids,
            )
        )
        return dict(self.env.cr.fetchall())

    def _last_attempt_by_id(self):
        """{endpoint id: (time, HTTP status or 0, error or start of the
        answer)} of each one's latest attempt: one query."""
        ids = [endpoint_id for endpoint_id in self.ids if endpoint_id]
        if not ids:
            return {}
        self.env["coop.webhook.attempt"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT ON (d.endpoint_id)
                       d.endpoint_id, a.attempted_at, COALESCE(a.status_code, 0),
                       LEFT(COALESCE(NULLIF(a.error, ''), a.response), 300)
                  FROM coop_webhook_attempt a
                  JOIN coop_webhook_delivery d ON d.id = a.delivery_id
                 WHERE d.endpoint_id = ANY(%s)
                 ORDER BY d.endpoint_id, a.attempted_at DESC, a.id DESC
                """,
                ids,
            )
        )
        return {row[0]: row[1:] for row in self.env.cr.fetchall()}

    def _recent_counts_by_id(self):
        """{endpoint id: (delivered, failed)} of the deliveries of the last
        days: one query. Cancelled ones were stopped by a disabling: failed."""
        counts = {}
        for endpoint, state, count in (
            self.env["coop.webhook.delivery"]
            .sudo()
            ._read_group(
                [
                    ("endpoint_id", "in", self.ids),
                    ("state", "in", ("done", "failed", "cancelled")),
                    (
                        "create_date",
                        ">=",
                        fields.Datetime.now() - timedelta(days=HEALTH_DAYS),
                    ),
                ],
                ["endpoint_id", "state"],
                ["__count"],
            )
        ):
            done, failed = counts.get(endpoint.id, (0, 0))
            if state == "done":
                done += count
            else:
                failed += count
            counts[endpoint.id] = (done, failed)
        return counts

    @api.depends("url", "user_id")
    @api.depends_context("uid")
    def _compute_display_name(self):
        """The URL for its owner and administrators only: it may carry the
        receiver's token, and past deliveries still show their endpoint to
        its previous owner (many2one names are read as superuser)."""
        shown = self._url_shown()
        for endpoint in self:
            if endpoint in shown:
                endpoint.display_name = endpoint.url
            else:
                endpoint.display_name = self.env._(
                    "Endpoint %(id)s of another user", id=endpoint.id
                )

    def _url_shown(self):
        """Those of these endpoints whose URL the current user may see: their
        own, or all for administrators."""
        if self.env.user._is_system():
            return self
        return self.filtered(lambda endpoint: endpoint.user_id.id == self.env.uid)

    def _compute_web_url(self):
        for endpoint in self:
            endpoint.web_url = endpoint._notify_get_action_link("view")

    def _compute_delivery_counts(self):
        counts = {
            (endpoint.id, state): count
            for endpoint, state, count in self.env["coop.webhook.delivery"]
            .sudo()
            ._read_group(
                [("endpoint_id", "in", self.ids)], ["endpoint_id", "state"], ["__count"]
            )
        }
        for endpoint in self:
            mine = {s: c for (e, s), c in counts.items() if e == endpoint.id}
            endpoint.delivery_count = sum(mine.values())
            # Cancelled ones were stopped by the endpoint's disabling: as failed.
            endpoint.failed_delivery_count = mine.get("failed", 0) + mine.get(
                "cancelled", 0
            )

    # ------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------

    def _check_url_value(self, url):
        settings = self.env["ir.config_parameter"]._coop_webhook_settings()
        try:
            return url_guard.check_url(
                url, settings.allow_http, settings.allowed_networks
            )
        except url_guard.UnsafeUrl as exc:
            messages = {
                "empty": self.env._("Paste the URL your tool gave you."),
                "too_long": self.env._("This URL is longer than 2048 characters."),
                "malformed": self.env._("This is not a valid URL."),
                "scheme": self.env._("The URL must start with https://")
                if not settings.allow_http
                else self.env._("The URL must start with https:// or http://"),
                "credentials": self.env._(
                    "Put no user name or password in the URL: the signature "
                    "authenticates the deliveries."
                ),
                "bad_host": self.env._("The URL's host name is not valid."),
                "private_address": self.env._(
                    "The URL points to a private, local or reserved address: "
                    "webhooks only go to public servers."
                ),
            }
            raise ValidationError(
                messages.get(exc.code, self.env._("This URL is refused."))
            ) from None

    def _check_event_type_value(self, event_type_id):
        event_type = self.env["coop.webhook.event.type"]
        if is_record_id(event_type_id):
            event_type = event_type.browse(event_type_id).exists()
        if not event_type or not event_type.subscribable:
            raise ValidationError(self.env._("Unknown event type."))
        return event_type

    def _check_lead_time_value(self, lead_time_hours):
        """Before the value reaches SQL: one beyond PostgreSQL's integers
        would fail the query itself."""
        if isinstance(lead_time_hours, bool) or not (
            isinstance(lead_time_hours, (int, float))
            and MIN_LEAD_TIME_HOURS <= lead_time_hours <= MAX_LEAD_TIME_HOURS
        ):
            raise ValidationError(
                self.env._(
                    "The lead time is from %(min)s to %(max)s hours (7 days).",
                    min=MIN_LEAD_TIME_HOURS,
                    max=MAX_LEAD_TIME_HOURS,
                )
            )

    @api.constrains("user_id", "event_type_id")
    def _check_cap(self):
        for endpoint in self:
            count = self.sudo().search_count(
                [
                    ("user_id", "=", endpoint.user_id.id),
                    ("event_type_id", "=", endpoint.event_type_id.id),
                ]
            )
            if count > MAX_ENDPOINTS_PER_TYPE:
                raise ValidationError(
                    self.env._(
                        "At most %(max)s endpoints per event type.",
                        max=MAX_ENDPOINTS_PER_TYPE,
                    )
                )

    def _check_owner(self, user):
        """An endpoint belongs to an active user with the access."""
        if not (user.active and user.sudo()._has_group(GROUP_XMLID)):
            raise ValidationError(
                self.env._(
                    "%(user)s cannot own webhooks: only active users with "
                    "Developer settings access can.",
                    user=user.name,
                )
            )

    def _refuse_lifecycle_fields(self, vals, allowed=()):
        touched = sorted((LIFECYCLE_FIELDS - set(allowed)) & set(vals))
        if touched and not self.env.su:
            raise AccessError(
                self.env._(
                    "The owner, the event and the state of a webhook only change "
                    "through its buttons (Disable, Enable, Rotate secret; "
                    "administrators: Change owner). Refused: %(fields)s.",
                    fields=", ".join(touched),
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            self.env.user._coop_check_developer_access()
        is_admin = self.env.su or self.env.user.has_group("base.group_system")
        for vals in vals_list:
            self._refuse_lifecycle_fields(vals, allowed=("user_id", "event_type_id"))
            owner_id = vals.get("user_id", self.env.uid)
            if owner_id != self.env.uid:
                if not is_admin:
                    raise AccessError(
                        self.env._("You can only create your own webhooks.")
                    )
                owner = self.env["res.users"]
                if is_record_id(owner_id):
                    owner = owner.browse(owner_id).exists()
                self._check_owner(owner)
            vals["url"] = self._check_url_value(vals.get("url"))
            self._check_event_type_value(vals.get("event_type_id"))
            if "lead_time_hours" in vals:
                self._check_lead_time_value(vals["lead_time_hours"])
        # Sealed first: without a usable key, nothing is written.
        sealed = [self._seal_secrets(signing.generate_secret()) for _vals in vals_list]
        endpoints = super().create(vals_list)
        for endpoint, secrets in zip(endpoints, sealed, strict=True):
            endpoint._write_sealed(secrets)
        return endpoints

    def write(self, vals):
        self._refuse_lifecycle_fields(vals)
        if "url" in vals:
            vals["url"] = self._check_url_value(vals["url"])
        if "lead_time_hours" in vals:
            self._check_lead_time_value(vals["lead_time_hours"])
        if vals.get("state") == "disabled":
            # Whatever disables it: Enable and resend failed resends what
            # happened since.
            vals = {"disabled_at": fields.Datetime.now(), **vals}
        return super().write(vals)

    def unlink(self):
        """Delete the endpoints with their deliveries, at once, never waiting
        for a delivery job.

        Their scheduled jobs end now, with the reason, instead of failing
        later on a missing record. An endpoint whose deliveries a job is
        sending right now (their rows locked until it ends, up to its
        receivers' timeout) cannot be removed before that job ends: it is
        deleted for everyone at once (hidden, disabled: nothing more is
        sent), its other deliveries cancelled, and a job removes it when the
        sending job is over.
        """
        self.check_access("unlink")
        self.sudo().delivery_ids._cancel_jobs(self._deleted_reason())
        busy = self._lock_for_unlink()
        busy._mark_deleted()
        return super(CoopWebhookEndpoint, self - busy).unlink()

    def _deleted_reason(self):
        return self.env._("Webhook endpoint deleted.")

    def _lock_for_unlink(self):
        """Lock these endpoints and their deliveries for their removal,
        without waiting; returns those another transaction holds a row of
        (a job sending one of their deliveries, an event being queued to
        them, a write): they cannot be removed now."""
        if not self:
            return self
        deliveries = self.sudo().delivery_ids
        busy = (deliveries - deliveries._lock(skip_locked=True)).endpoint_id
        self.flush_recordset()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM coop_webhook_endpoint WHERE id IN %s "
                "FOR UPDATE SKIP LOCKED",
                tuple(self.ids),
            )
        )
        locked = {row[0] for row in self.env.cr.fetchall()}
        return busy | self.filtered(lambda endpoint: endpoint.id not in locked)

    def _mark_deleted(self):
        """Delete these endpoints for everyone now, and remove them with a
        job once they are free (see unlink): their deliveries still to be
        sent that no job is sending are cancelled; those being sent get no
        further attempt (the next ones find the endpoint deleted)."""
        if not self:
            return
        endpoints = self.sudo().with_context(tracking_disable=True)
        try:
            # Its owner (or a job disabling it) writing it right now.
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM coop_webhook_endpoint WHERE id IN %s "
                        "FOR NO KEY UPDATE NOWAIT",
                        tuple(self.ids),
                    )
                )
        except psycopg2.errors.LockNotAvailable:
            raise UserError(
                self.env._(
                    "This webhook is being changed right now: try again in a few "
                    "seconds."
                )
            ) from None
        reason = self._deleted_reason()
        endpoints.write(
            {"active": False, "state": "disabled", "disabled_reason": reason}
        )
        deliveries = endpoints.delivery_ids
        deliveries._lock(skip_locked=True).filtered(
            lambda delivery: delivery.state in IN_FLIGHT
        )._cancel(reason)
        endpoints.with_user(SUPERUSER_ID).with_delay(
            channel=CHANNEL,
            eta=LOCKED_RETRY,
            description=f"Webhook endpoints {endpoints.ids}: removal once deleted",
        )._remove_deleted()

    def _remove_deleted(self):
        """Remove these deleted endpoints and their deliveries once no job
        sends any of them: a job, run again until then (see unlink)."""
        endpoints = self.sudo().with_context(active_test=False).exists()
        endpoints = endpoints.filtered(lambda endpoint: not endpoint.active)
        if endpoints._lock_for_unlink():
            raise RetryableJobError(
                "a job is sending deliveries of these deleted endpoints",
                seconds=LOCKED_RETRY,
                ignore_retry=True,
            )
        deliveries = endpoints.delivery_ids
        # The jobs queued since the deletion end with the reason.
        deliveries.filtered(lambda delivery: delivery.state in IN_FLIGHT)._cancel(
            self._deleted_reason()
        )
        super(CoopWebhookEndpoint, endpoints).unlink()
        return f"removed: {len(endpoints)} endpoints, {len(deliveries)} deliveries"

    @api.model
    def _recipient_domain(self, company):
        """Endpoints that may receive an event of company: enabled, owned by
        an active user who has the access and is allowed on company.

        Checked when the event is queued and again when each delivery is
        about to be sent: the access or the company may be gone meanwhile.
        """
        return [
            ("state", "=", "enabled"),
            ("user_id.active", "=", True),
            ("user_id.groups_id", "in", self.env.ref(GROUP_XMLID).ids),
            ("user_id.company_ids", "in", company.ids),
        ]

    # ------------------------------------------------------------------
    # Signing secrets, encrypted at rest
    # ------------------------------------------------------------------

    def init(self):
        for column in self._coop_sealed_columns:
            if not sql.column_exists(self.env.cr, self._table, column):
                sql.create_column(self.env.cr, self._table, column, "varchar")

    def _sealed_secrets(self):
        """(current, previous) as stored: sealed, or None."""
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                "SELECT secret_sealed, previous_secret_sealed "
                "FROM coop_webhook_endpoint WHERE id = %s",
                self.id,
            )
        )
        return self.env.cr.fetchone() or (None, None)

    def _unseal(self, column, sealed):
        vault = self.env["coop.secret.vault"]
        return vault._unseal(sealed, vault._purpose(self._table, column))

    def _secret(self):
        """The current signing secret, in clear: for its owner's eyes only
        (callers check access first), or to sign."""
        return self._unseal("secret_sealed", self._sealed_secrets()[0])

    def _seal_secrets(self, secret, previous=None):
        """{sealed column: the secret sealed for it, or None}."""
        vault = self.env["coop.secret.vault"]
        return {
            column: value and vault._seal(value, vault._purpose(self._table, column))
            for column, value in zip(
                self._coop_sealed_columns, (secret, previous), strict=True
            )
        }

    def _write_sealed(self, sealed):
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                "UPDATE coop_webhook_endpoint SET secret_sealed = %s, "
                "previous_secret_sealed = %s WHERE id = %s",
                sealed["secret_sealed"],
                sealed["previous_secret_sealed"],
                self.id,
            ),
            # Never logged, whatever happens: only ciphertext, but no value
            # of a secret column belongs in a log line.
            log_exceptions=False,
        )

    def _store_secrets(self, secret, previous=None):
        """Seal and store the current and the previous signing secret."""
        self._write_sealed(self._seal_secrets(secret, previous))

    def _signing_secrets(self):
        """The secrets that sign now: the current one, and the previous one
        during the 24 hours after a rotation."""
        self.ensure_one()
        current, previous = self._sealed_secrets()
        secrets = [self._unseal("secret_sealed", current)]
        until = self.sudo().previous_secret_until
        if previous and until and until > fields.Datetime.now():
            secrets.append(self._unseal("previous_secret_sealed", previous))
        return secrets

    # ------------------------------------------------------------------
    # Actions of the Developer settings tab
    # ------------------------------------------------------------------

    def _coop_tab_values(self):
        """The endpoints as the Developer settings tab shows them."""
        states = dict(self._fields["state"]._description_selection(self.env))
        return [
            {
                "id": endpoint.id,
                "url": endpoint.url,
                "state": endpoint.state,
                "state_label": states[endpoint.state],
                "disabled_reason": endpoint.disabled_reason,
                "lead_time_hours": endpoint.event_type_has_lead_time
                and endpoint.lead_time_hours,
                "last_attempt_at": endpoint.last_attempt_at,
                "last_attempt_status": endpoint.last_attempt_status,
                "last_attempt_ok": endpoint.last_attempt_ok,
                "last_attempt_error": endpoint.last_attempt_error,
                "failing_since": endpoint.failing_since,
                "disable_on": endpoint.disable_on,
            }
            for endpoint in self
        ]

    @api.model
    def coop_tab_create(self, event_type_id, url, user_id=None):
        """Create of the tab: the new endpoint and, this once, its secret
        (as a new API key is shown once; afterwards Secret asks for the
        password). The same checks as any create."""
        vals = {"event_type_id": event_type_id, "url": url}
        if user_id:
            vals["user_id"] = user_id
        endpoint = self.create(vals)
        return {"id": endpoint.id, "secret": endpoint._secret()}

    def coop_tab_deliveries(self, limit=20):
        """The delivery log of the tab: the latest deliveries the caller may
        read (owners: those sent for them), each with its last attempt."""
        self.ensure_one()
        self.check_access("read")
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_TAB_DELIVERIES
        ):
            raise UserError(
                self.env._(
                    "The delivery log shows from 1 to %(max)s deliveries.",
                    max=MAX_TAB_DELIVERIES,
                )
            )
        Delivery = self.env["coop.webhook.delivery"]
        states = dict(Delivery._fields["state"]._description_selection(self.env))
        deliveries = Delivery.search([("endpoint_id", "=", self.id)], limit=limit)
        rows = []
        for delivery in deliveries:
            attempt = delivery.attempt_ids[:1]
            rows.append(
                {
                    "id": delivery.id,
                    "at": attempt.attempted_at or delivery.create_date,
                    "event_type": delivery.event_type,
                    "state": delivery.state,
                    "state_label": states[delivery.state],
                    "status": attempt.status_code or delivery.last_status,
                    "duration_ms": attempt.duration_ms,
                    "excerpt": (
                        attempt.error or attempt.response or delivery.last_error or ""
                    )[:200],
                }
            )
        return rows

    @check_identity
    def action_reveal_secret(self):
        self.ensure_one()
        self.check_access("read")
        return {
            "type": "ir.actions.act_window",
            "res_model": "coop.webhook.secret.show",
            "name": self.env._("Signing secret"),
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_secret": self._secret()},
        }

    @check_identity
    def action_rotate_secret(self):
        self._rotate_secret()
        return self.action_reveal_secret()

    def _rotate_secret(self):
        """A new secret; the previous one also signs for 24 hours, unless it
        can no longer be decrypted (its key was lost): then the new one
        signs alone at once."""
        self.check_access("write")
        for endpoint in self.sudo():
            try:
                previous = endpoint._secret()
            except SecretUnreadable:
                previous = None
            endpoint._store_secrets(signing.generate_secret(), previous)
            endpoint.write(
                {
                    "previous_secret_until": previous
                    and fields.Datetime.now() + ROTATION_OVERLAP
                }
            )
            endpoint.message_post(
                body=self.env._(
                    "Signing secret rotated: the previous one also signs for 24 hours."
                )
                if previous
                else self.env._(
                    "Signing secret replaced: the previous one could not be "
                    "decrypted any more; only the new one signs."
                )
            )

    def _claim_manual_send(self):
        """Send test event, Redeliver and the resends: at most once per
        endpoint in the configured interval, against a flood of clicks or
        calls."""
        settings = self.env["ir.config_parameter"]._coop_webhook_settings()
        interval = settings.manual_send_interval
        if not interval or not self:
            return
        # Concurrent claims wait for each other, then see the winner's stamp.
        self.flush_recordset(["last_manual_send_at"])
        self.env.cr.execute(
            "SELECT id FROM coop_webhook_endpoint WHERE id IN %s FOR NO KEY UPDATE",
            [tuple(self.ids)],
        )
        self.invalidate_recordset(["last_manual_send_at"])
        now = fields.Datetime.now()
        for endpoint in self:
            last = endpoint.last_manual_send_at
            if last and now < last + timedelta(seconds=interval):
                wait = last + timedelta(seconds=interval) - now
                seconds = math.ceil(wait.total_seconds())
                raise TooManySends(
                    self.env._(
                        "Too many sends to %(url)s: wait %(seconds)s seconds before "
                        "sending a test event, redelivering or resending events "
                        "again.",
                        url=endpoint.url,
                        seconds=seconds,
                    ),
                    seconds,
                )
        self.sudo().write({"last_manual_send_at": now})

    def action_send_test_event(self):
        self._send_test_event()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("Test event queued: see the deliveries."),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def _send_test_event(self):
        """Queue a test event to each endpoint; returns the deliveries."""
        self.check_access("read")
        self._claim_manual_send()
        return self.env["coop.webhook.delivery"]._enqueue_test_event(self)

    def action_disable(self):
        self.check_access("write")
        self.sudo().write(
            {"state": "disabled", "disabled_reason": self.env._("Disabled by hand.")}
        )
        return True

    def action_enable(self):
        self.check_access("write")
        for endpoint in self:
            endpoint._check_owner(endpoint.user_id)
        self.sudo().write(
            {
                "state": "enabled",
                "disabled_reason": False,
                "enabled_at": fields.Datetime.now(),
            }
        )
        failed = self._owned_deliveries().filtered(
            lambda delivery: delivery.state in ("failed", "cancelled")
        )
        if not failed:
            return True
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "warning",
                "sticky": True,
                "message": self.env._(
                    "%(count)s deliveries failed meanwhile: use Redeliver failed "
                    "to send them again.",
                    count=len(failed),
                ),
            },
        }

    def action_redeliver_failed(self):
        self.check_access("write")
        return (
            self._owned_deliveries()
            .filtered(lambda delivery: delivery.state in ("failed", "cancelled"))
            .action_redeliver()
        )

    def action_enable_and_resend(self):
        """One click on a disabled endpoint: enable it, send again what
        failed or expired (within the retention: an administrator may have
        kept its event type from expiring since) and the events of its type
        that happened while it was disabled, with their ids. Stale ones
        expire again."""
        self.ensure_one()
        self.check_access("write")
        since = self._retention_start()
        failed = self._owned_deliveries().filtered(
            lambda delivery: delivery.state in ("failed", "cancelled", "expired")
            and delivery.create_date >= since
        )
        missed = self.env["coop.webhook.event"]
        if self.state == "disabled":
            # Those it has no delivery of at all.
            missed = self._events_since(
                max(self.disabled_at or fields.Datetime.now(), since),
                skip_states=ALL_STATES,
            )
        self._check_resend_size(len(failed) + len(missed))
        self.action_enable()
        self._claim_manual_send()
        failed._lock_or_refuse()
        expired = failed._redeliver()
        expired |= self._resend(missed)
        return self._resent_notification(len(failed) + len(missed), len(expired))

    def action_open_resend_wizard(self):
        """Resend events since...: the date is asked in a dialog."""
        self.ensure_one()
        self.check_access("write")
        return {
            "type": "ir.actions.act_window",
            "res_model": "coop.webhook.resend.wizard",
            "name": self.env._("Resend events since..."),
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_endpoint_id": self.id},
        }

    def _retention_start(self):
        """The oldest moment events and deliveries are kept from."""
        settings = self.env["ir.config_parameter"]._coop_webhook_settings()
        return fields.Datetime.now() - timedelta(days=settings.retention_days)

    def _events_since_domain(self, since, skip_states=IN_FLIGHT):
        """The events of this endpoint's type since then that it may
        receive: its shop's (the companies its owner is allowed on) and its
        own (reminders, tests), including those that happened while it was
        disabled; but those it has a delivery of in one of skip_states (by
        default: on its way, not to be queued twice)."""
        self.ensure_one()
        return [
            ("event_type", "=", self.event_type),
            ("occurred_at", ">=", since),
            ("company_id", "in", self.user_id.company_ids.ids),
            "|",
            ("endpoint_id", "=", False),
            ("endpoint_id", "=", self.id),
            (
                "delivery_ids",
                "not any",
                [("endpoint_id", "=", self.id), ("state", "in", skip_states)],
            ),
        ]

    def _events_since(self, since, skip_states=IN_FLIGHT):
        """Those events (see _events_since_domain), oldest first; refused
        beyond MAX_RESEND."""
        domain = self._events_since_domain(since, skip_states)
        events = (
            self.env["coop.webhook.event"]
            .sudo()
            .search(domain, order="occurred_at, id", limit=MAX_RESEND + 1)
        )
        if len(events) > MAX_RESEND:
            # Counted only to tell how many in the refusal.
            self._check_resend_size(
                self.env["coop.webhook.event"].sudo().search_count(domain)
            )
        return events

    def _check_resend_size(self, count):
        if count > MAX_RESEND:
            raise UserError(
                self.env._(
                    "%(count)s events to send again: at most %(max)s per request. "
                    "Use Resend events since... with a later date (enable the "
                    "webhook first if it is disabled).",
                    count=count,
                    max=MAX_RESEND,
                )
            )

    def _resend_since(self, since):
        """Resend events since...: every event this endpoint may receive
        since then, again, with its id (receivers deduplicate on it). At
        most the retention back and MAX_RESEND events per request, at most
        once per manual send interval; those already on their way are not
        queued twice; stale ones expire. Owners and administrators."""
        self.ensure_one()
        self.check_access("write")
        oldest = self._retention_start()
        if since < oldest:
            settings = self.env["ir.config_parameter"]._coop_webhook_settings()
            raise UserError(
                self.env._(
                    "Events are kept %(days)s days: choose a date after %(date)s "
                    "(UTC).",
                    days=settings.retention_days,
                    date=fields.Datetime.to_string(oldest),
                )
            )
        if since > fields.Datetime.now():
            raise UserError(self.env._("Choose a date in the past."))
        if self.state != "enabled":
            raise UserError(
                self.env._(
                    "This webhook is disabled: use Enable and resend failed, or "
                    "enable it first."
                )
            )
        events = self._events_since(since)
        self._claim_manual_send()
        expired = self._resend(events)
        return self._resent_notification(len(events), len(expired))

    def _resend(self, events):
        """Queue events to this endpoint again; returns the deliveries that
        expired at once (their event is stale)."""
        deliveries = self.env["coop.webhook.delivery"]._queue(
            [(event, self) for event in events], replay=True
        )
        return deliveries.filtered(lambda delivery: delivery.state == "expired")

    def _resent_notification(self, count, expired):
        message = self.env._("%(count)s events queued again.", count=count - expired)
        if expired:
            message += " " + self.env._(
                "%(count)s others are too late to be sent (their sale cycle has "
                "moved on): expired, see the deliveries.",
                count=expired,
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": message,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def _owned_deliveries(self):
        """The deliveries addressed to the endpoint's current owner (those of
        a previous owner stay theirs)."""
        return self.sudo().delivery_ids.filtered(
            lambda delivery: delivery.user_id == delivery.endpoint_id.user_id
        )

    def action_change_owner(self):
        self.ensure_one()
        self._check_admin()
        return {
            "type": "ir.actions.act_window",
            "res_model": "coop.webhook.endpoint.owner.wizard",
            "name": self.env._("Change the owner"),
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_endpoint_id": self.id},
        }

    def _check_admin(self):
        if not (self.env.su or self.env.user.has_group("base.group_system")):
            raise AccessError(
                self.env._("Only administrators change the owner of a webhook.")
            )

    def _change_owner(self, new_owner):
        """Hand the endpoints to new_owner (administrators only).

        The new owner must be able to own webhooks. The deliveries still on
        their way follow the endpoint when the new owner is allowed on their
        event's company, and are cancelled otherwise; past ones stay with the
        previous owner, who received them.
        """
        self._check_admin()
        self._check_owner(new_owner)
        for endpoint in self.sudo():
            previous = endpoint.user_id
            if previous == new_owner:
                continue
            endpoint.write({"user_id": new_owner.id})
            endpoint._hand_chatter_over(new_owner)
            in_flight = endpoint.delivery_ids.filtered(
                lambda delivery: delivery.state in ("pending", "retrying")
            )
            allowed = in_flight.filtered(
                lambda delivery: delivery.company_id in new_owner.company_ids
            )
            allowed.write({"user_id": new_owner.id})
            (in_flight - allowed)._cancel(
                self.env._(
                    "The endpoint changed owner; the new owner is not allowed on "
                    "this event's company."
                )
            )
            endpoint.message_post(
                body=self.env._(
                    "Owner changed from %(previous)s to %(new)s by %(admin)s.",
                    previous=previous.name,
                    new=new_owner.name,
                    admin=self.env.user.name,
                ),
                subtype_xmlid="mail.mt_note",
            )

    def message_post(self, **kwargs):
        # Not the record's name, its URL: messages keep it, and the email
        # subjects (see url).
        kwargs.setdefault(
            "record_name",
            self.env._(
                "Webhook %(id)s (%(event)s)", id=self.id, event=self.event_type_id.name
            ),
        )
        return super().message_post(**kwargs)

    def _hand_chatter_over(self, new_owner):
        """The chatter goes to the new owner: they alone follow it, and the
        URL changes earlier versions tracked in it are removed."""
        self.ensure_one()
        self.message_unsubscribe((self.message_partner_ids - new_owner.partner_id).ids)
        self.message_subscribe(new_owner.partner_id.ids)
        url_field = self.env["ir.model.fields"]._get(self._name, "url")
        self.env["mail.tracking.value"].sudo().search(
            [
                ("mail_message_id", "in", self.message_ids.ids),
                ("field_id", "=", url_field.id),
            ]
        ).unlink()

    def action_edit_url(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "name": self.env._("Edit webhook"),
            "views": [(False, "form")],
            "target": "new",
        }

    def action_delete(self):
        self.unlink()
        return True

    def action_view_deliveries(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "coop_developer_settings.coop_webhook_delivery_action"
        )
        action["domain"] = [("endpoint_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------
    # Health
    # ------------------------------------------------------------------

    def _record_failure(self, gone=False):
        """After a failed attempt: disable the endpoint when it is gone (410)
        or has failed for the configured number of days. Returns whether it
        disabled it."""
        self.ensure_one()
        endpoint = self.sudo()
        if endpoint.state != "enabled":
            return False
        if gone:
            endpoint._disable(
                self.env._("The receiver answered 410 Gone: it no longer wants them.")
            )
            return True
        settings = self.env["ir.config_parameter"]._coop_webhook_settings()
        days = settings.disable_after_days
        failing_since = endpoint._failing_since_by_id().get(endpoint.id)
        if failing_since and failing_since <= fields.Datetime.now() - timedelta(
            days=days
        ):
            endpoint._disable(
                self.env._("Every delivery failed for %(days)s days.", days=days)
            )
            return True
        return False

    def _disable(self, reason):
        self.sudo().write({"state": "disabled", "disabled_reason": reason})
        body = Markup("<p>%s</p><p>%s</p>") % (
            self.env._(
                "This webhook (%(event)s) was disabled: %(reason)s",
                event=self.event_type_id.name,
                reason=reason,
            ),
            self.env._(
                "Fix the receiver, then re-enable it in your Developer settings tab; "
                "you can redeliver what failed meanwhile."
            ),
        )
        self.message_post(
            body=body,
            partner_ids=self.user_id.partner_id.ids,
            subtype_xmlid="mail.mt_comment",
        )

    @api.model
    def _cron_warn_failing(self):
        """Warn the owners of the enabled endpoints failing for half the
        disable period: one email and a chatter note per failing streak
        (a success ends a streak; the next one is warned again)."""
        settings = self.env["ir.config_parameter"]._coop_webhook_settings()
        half = timedelta(days=settings.disable_after_days) / 2
        endpoints = self.sudo().search([("state", "=", "enabled")])
        failing = endpoints._failing_since_by_id()
        now = fields.Datetime.now()
        warned = self.browse()
        for endpoint in endpoints:
            since = failing.get(endpoint.id)
            if since and since <= now - half and endpoint._claim_warning(since):
                endpoint._warn_failing()
                warned |= endpoint
        return warned

    def _claim_warning(self, failing_since):
        """Mark this streak as warned about; False if it already was, by
        this run or a concurrent one."""
        self.ensure_one()
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                self.env.cr.execute(
                    SQL(
                        """
                        UPDATE coop_webhook_endpoint SET warned_failing_since = %s
                         WHERE id = %s
                           AND warned_failing_since IS DISTINCT FROM %s
                        RETURNING id
                        """,
                        failing_since,
                        self.id,
                        failing_since,
                    )
                )
                claimed = bool(self.env.cr.fetchone())
        except psycopg2.extensions.TransactionRollbackError:
            return False  # a concurrent transaction wrote the row first
        self.invalidate_recordset(["warned_failing_since"])
        return claimed

    def _warn_failing(self):
        """The email to the owner (with the URL), and a note in the chatter
        (without: see url)."""
        template = self.env.ref(
            "coop_developer_settings.mail_template_webhook_failing"
        ).sudo()
        template.send_mail(self.id)
        owner_env = self.with_context(lang=self.user_id.lang).env
        self.sudo().message_post(
            body=owner_env._(
                "%(owner)s warned by email: deliveries failing since %(since)s "
                "(UTC); disabled on %(date)s (UTC) if they keep failing.",
                owner=self.user_id.name,
                since=fields.Datetime.to_string(self.failing_since),
                date=fields.Datetime.to_string(self.disable_on),
            ),
            subtype_xmlid="mail.mt_note",
        )
