# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from odoo.addons.base.models.res_users import check_identity

from ..webhook import signing, url_guard

MAX_ENDPOINTS_PER_TYPE = 10
ROTATION_OVERLAP = timedelta(hours=24)
PARAM = "coop_developer_settings.%s"


def webhook_param(env, name, default=None):
    """A webhook setting (Settings › Developer settings), by its short name."""
    return env["ir.config_parameter"].sudo().get_param(PARAM % name, default)


class CoopWebhookEndpoint(models.Model):
    """Where a user wants one type of event sent: a URL and its secret."""

    _name = "coop.webhook.endpoint"
    _description = "Webhook endpoint"
    _inherit = ["mail.thread"]
    _order = "event_type_id, id"
    _rec_name = "url"

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
    url = fields.Char(string="URL", required=True, tracking=True)
    state = fields.Selection(
        [("enabled", "Enabled"), ("disabled", "Disabled")],
        default="enabled",
        required=True,
        readonly=True,
        tracking=True,
    )
    disabled_reason = fields.Char(readonly=True)
    # Secrets: administrators only; owners see theirs through a button that
    # checks their password (action_reveal_secret).
    secret = fields.Char(groups="base.group_system", copy=False)
    previous_secret = fields.Char(groups="base.group_system", copy=False)
    previous_secret_until = fields.Datetime(
        readonly=True, copy=False, help="The old secret also signs until then."
    )
    # Derived from the attempts, never written by deliveries: concurrent
    # deliveries to one endpoint must not contend for its row.
    failing_since = fields.Datetime(
        compute="_compute_failing_since",
        help="First failed attempt since the last success (or since the endpoint "
        "was enabled): after the configured number of days, it is disabled.",
    )
    enabled_at = fields.Datetime(readonly=True, copy=False, default=fields.Datetime.now)
    delivery_ids = fields.One2many("coop.webhook.delivery", "endpoint_id")
    delivery_count = fields.Integer(compute="_compute_delivery_counts")
    failed_delivery_count = fields.Integer(compute="_compute_delivery_counts")

    def _compute_failing_since(self):
        for endpoint in self:
            endpoint.failing_since = endpoint._failing_since()

    def _failing_since(self):
        """SQL over the attempts of this endpoint: one query, no write."""
        self.ensure_one()
        self.env["coop.webhook.attempt"].flush_model()
        self.env.cr.execute(
            """
            WITH attempts AS (
                SELECT a.attempted_at,
                       COALESCE(a.status_code BETWEEN 200 AND 299, false) AS ok
                  FROM coop_webhook_attempt a
                  JOIN coop_webhook_delivery d ON d.id = a.delivery_id
                 WHERE d.endpoint_id = %(id)s AND a.attempted_at >= %(since)s
            )
            SELECT MIN(attempted_at) FROM attempts
             WHERE NOT ok AND attempted_at > COALESCE(
                (SELECT MAX(attempted_at) FROM attempts WHERE ok), '-infinity')
            """,
            {"id": self.id, "since": self.enabled_at or self.create_date},
        )
        return self.env.cr.fetchone()[0]

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

    def _url_settings(self):
        allow_http = bool(webhook_param(self.env, "webhook_allow_http"))
        networks = url_guard.parse_networks(
            webhook_param(self.env, "allowed_private_networks", "")
        )
        return allow_http, networks

    def _check_url_value(self, url):
        allow_http, networks = self._url_settings()
        try:
            return url_guard.check_url(url, allow_http, networks)
        except url_guard.UnsafeUrl as exc:
            messages = {
                "empty": self.env._("Paste the URL your tool gave you."),
                "too_long": self.env._("This URL is longer than 2048 characters."),
                "malformed": self.env._("This is not a valid URL."),
                "scheme": self.env._("The URL must start with https://")
                if not allow_http
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
        event_type = self.env["coop.webhook.event.type"].browse(event_type_id).exists()
        if not event_type or not event_type.subscribable:
            raise ValidationError(self.env._("Unknown event type."))
        return event_type

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

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            self.env.user._coop_check_developer_access()
        for vals in vals_list:
            if (
                not self.env.user.has_group("base.group_system")
                and vals.get("user_id", self.env.uid) != self.env.uid
            ):
                raise AccessError(self.env._("You can only create your own webhooks."))
            vals["url"] = self._check_url_value(vals.get("url"))
            self._check_event_type_value(vals.get("event_type_id"))
            vals["secret"] = signing.generate_secret()
        return super().create(vals_list)

    def write(self, vals):
        if "url" in vals:
            vals["url"] = self._check_url_value(vals["url"])
        if "event_type_id" in vals:
            self._check_event_type_value(vals["event_type_id"])
        return super().write(vals)

    # ------------------------------------------------------------------
    # Actions of the Developer settings tab
    # ------------------------------------------------------------------

    def _signing_secrets(self):
        """The secrets that sign now: the current one, and the previous one
        during the 24 hours after a rotation."""
        self.ensure_one()
        endpoint = self.sudo()
        secrets = [endpoint.secret]
        if (
            endpoint.previous_secret
            and endpoint.previous_secret_until
            and (endpoint.previous_secret_until > fields.Datetime.now())
        ):
            secrets.append(endpoint.previous_secret)
        return secrets

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
            "context": {"default_secret": self.sudo().secret},
        }

    @check_identity
    def action_rotate_secret(self):
        self._rotate_secret()
        return self.action_reveal_secret()

    def _rotate_secret(self):
        self.check_access("write")
        for endpoint in self.sudo():
            endpoint.write(
                {
                    "previous_secret": endpoint.secret,
                    "previous_secret_until": fields.Datetime.now() + ROTATION_OVERLAP,
                    "secret": signing.generate_secret(),
                }
            )
            endpoint.message_post(
                body=self.env._(
                    "Signing secret rotated: the previous one also signs for 24 hours."
                )
            )

    def action_send_test_event(self):
        self.check_access("read")
        self.env["coop.webhook.delivery"]._enqueue_test_event(self)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("Test event queued: see the deliveries."),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_disable(self):
        self.check_access("write")
        self.write(
            {"state": "disabled", "disabled_reason": self.env._("Disabled by hand.")}
        )
        return True

    def action_enable(self):
        self.check_access("write")
        self.write(
            {
                "state": "enabled",
                "disabled_reason": False,
                "enabled_at": fields.Datetime.now(),
            }
        )
        failed = self.delivery_ids.filtered(
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
        self.delivery_ids.filtered(
            lambda delivery: delivery.state in ("failed", "cancelled")
        ).action_redeliver()
        return True

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
        or has failed for the configured number of days."""
        days = int(webhook_param(self.env, "webhook_disable_after_days", 5))
        now = fields.Datetime.now()
        for endpoint in self.sudo():
            if gone:
                endpoint._disable(
                    self.env._(
                        "The receiver answered 410 Gone: it no longer wants them."
                    )
                )
                continue
            failing_since = endpoint._failing_since()
            if failing_since and failing_since <= now - timedelta(days=days):
                endpoint._disable(
                    self.env._("Every delivery failed for %(days)s days.", days=days)
                )

    def _disable(self, reason):
        if self.state == "disabled":
            return
        self.write({"state": "disabled", "disabled_reason": reason})
        body = Markup("<p>%s</p><p>%s</p>") % (
            self.env._(
                "Webhook %(url)s was disabled: %(reason)s", url=self.url, reason=reason
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
