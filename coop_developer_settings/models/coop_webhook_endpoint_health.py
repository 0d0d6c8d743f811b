# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Endpoint health: derived from the attempts, and the auto-disable."""

from datetime import timedelta

import psycopg2
from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL

from ..webhook.schemas import SUCCESS_STATUSES, is_success
from .coop_webhook_delivery import FAILED_STATES, STATE_DONE

# The health shown in the tab counts the deliveries of the last days.
HEALTH_DAYS = 7


class CoopWebhookEndpoint(models.Model):
    """Health and auto-disable: computed for all the endpoints shown at once."""

    _inherit = "coop.webhook.endpoint"

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
            endpoint.last_attempt_ok = bool(at) and is_success(status)
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
                           COALESCE(a.status_code BETWEEN %s AND %s, false) AS ok
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
                SUCCESS_STATUSES[0],
                SUCCESS_STATUSES[-1],
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
                    ("state", "in", (STATE_DONE, *FAILED_STATES)),
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
            if state == STATE_DONE:
                done += count
            else:
                failed += count
            counts[endpoint.id] = (done, failed)
        return counts

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
            with self.env.cr.savepoint():
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
                    ),
                    # Not mute_logger: it mutes every thread of the process.
                    log_exceptions=False,
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
