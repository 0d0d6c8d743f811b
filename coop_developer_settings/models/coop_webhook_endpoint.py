# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The webhook endpoint: its fields, their checks, its lifecycle (create,
write, enable, disable, delete) and who may receive events.

Its other concerns extend the same model (``_inherit``), one file each:
health and auto-disable (coop_webhook_endpoint_health.py), signing secrets
(coop_webhook_endpoint_secrets.py), manual sends and replays
(coop_webhook_endpoint_replay.py), ownership (coop_webhook_endpoint_owner.py)
and the Developer settings tab's presenter (coop_developer_tab.py).
"""

import psycopg2

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError

from ..webhook import signing, url_guard
from ..webhook.schemas import (
    DEFAULT_LEAD_TIME_HOURS,
    MAX_LEAD_TIME_HOURS,
    MAX_URL_LENGTH,
    MIN_LEAD_TIME_HOURS,
    is_record_id,
)
from .coop_webhook_delivery import CHANNEL, FAILED_STATES, IN_FLIGHT, LOCKED_RETRY
from .res_users import GROUP_XMLID

MAX_ENDPOINTS_PER_TYPE = 10
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


class CoopWebhookEndpoint(models.Model):
    """Where a user wants one type of event sent: a URL and its secret."""

    _name = "coop.webhook.endpoint"
    _description = "Webhook endpoint"
    _inherit = ["mail.thread", "coop.sealed.mixin"]
    _order = "event_type_id, id"
    _rec_name = "url"
    # The signing secrets, encrypted (coop.secret.vault) in columns the ORM
    # does not know (coop.sealed.mixin): no read, export, tracking or log
    # can return them, administrators' included. Owners and administrators
    # see one through Secret, after their password (action_reveal_secret).
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
            endpoint.failed_delivery_count = sum(
                mine.get(state, 0) for state in FAILED_STATES
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
                "too_long": self.env._(
                    "This URL is longer than %(max)s characters.", max=MAX_URL_LENGTH
                ),
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
            endpoint._coop_write_sealed(secrets)
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
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM coop_webhook_endpoint WHERE id IN %s "
                        "FOR NO KEY UPDATE NOWAIT",
                        tuple(self.ids),
                    ),
                    # Not mute_logger: it mutes every thread of the process.
                    log_exceptions=False,
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
    def _recipients(self, company, event_type=None, among=None):
        """The endpoints that may receive an event of company (of
        event_type; among those given), in id order: the one recipient rule.

        Checked when the event is queued (and reminders claimed) and again
        when each delivery is about to be sent or sent again: the access or
        the company may be gone meanwhile.
        """
        domain = self._recipient_domain(company)
        if event_type is not None:
            domain.append(("event_type", "=", event_type))
        if among is not None:
            domain.append(("id", "in", among.ids))
        return self.sudo().search(domain, order="id")

    @api.model
    def _recipient_domain(self, company):
        """Endpoints that may receive an event of company: enabled, owned by
        an active user who has the access and is allowed on company."""
        return [
            ("state", "=", "enabled"),
            ("user_id.active", "=", True),
            ("user_id.groups_id", "in", self.env.ref(GROUP_XMLID).ids),
            ("user_id.company_ids", "in", company.ids),
        ]

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
            lambda delivery: delivery.state in FAILED_STATES
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
