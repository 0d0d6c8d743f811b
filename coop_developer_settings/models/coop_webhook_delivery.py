# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import json
import time
import uuid
from datetime import timedelta

from odoo import api, fields, models
from odoo.modules.module import get_manifest

from ..webhook import client, retry, signing
from .coop_webhook_endpoint import webhook_param
from .res_users import GROUP_XMLID

CHANNEL = "root.webhook"
MODULE_VERSION = get_manifest("coop_developer_settings")["version"]


class CoopWebhookDelivery(models.Model):
    """One event for one endpoint: the outbox row, its attempts, its fate.

    Created in the transaction of the event; the exact body is stored and
    re-sent unchanged, with the same webhook-id, on every attempt.
    """

    _name = "coop.webhook.delivery"
    _description = "Webhook delivery"
    _order = "id desc"
    _rec_name = "event_id"

    endpoint_id = fields.Many2one(
        "coop.webhook.endpoint", required=True, index=True, ondelete="cascade"
    )
    user_id = fields.Many2one(related="endpoint_id.user_id", store=True, index=True)
    url = fields.Char(related="endpoint_id.url")
    event_id = fields.Char(required=True, index=True, readonly=True)
    event_type = fields.Char(required=True, readonly=True)
    body = fields.Text(required=True, readonly=True)
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("retrying", "Retrying"),
            ("done", "Done"),
            ("failed", "Failed"),
            ("cancelled", "Cancelled"),
        ],
        default="pending",
        required=True,
        readonly=True,
        index=True,
    )
    attempt_count = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(readonly=True)
    last_status = fields.Integer(string="Last HTTP status", readonly=True)
    last_error = fields.Char(readonly=True)
    attempt_ids = fields.One2many(
        "coop.webhook.attempt", "delivery_id", string="Attempts", readonly=True
    )

    # ------------------------------------------------------------------
    # Outbox: created with the event, in its transaction
    # ------------------------------------------------------------------

    @api.model
    def _enqueue_event(self, event_type, records):
        """Fan an event of records out to every endpoint that should get it.

        Recipients: enabled endpoints for the event type whose owner is
        active, still holds the access and is allowed on the record's company.
        """
        group = self.env.ref(GROUP_XMLID)
        endpoints = (
            self.env["coop.webhook.endpoint"]
            .sudo()
            .search(
                [
                    ("event_type", "=", event_type),
                    ("state", "=", "enabled"),
                    ("user_id.active", "=", True),
                    ("user_id.groups_id", "in", group.ids),
                ]
            )
        )
        vals_list = []
        for record in records:
            company = record.company_id
            receivers = endpoints.filtered(
                lambda e, c=company: c in e.user_id.company_ids
            )
            if not receivers:
                continue
            body = self._envelope(event_type, record._webhook_data(event_type))
            vals_list += [
                {"endpoint_id": endpoint.id, "event_type": event_type, **body}
                for endpoint in receivers
            ]
        deliveries = self.sudo().create(vals_list)
        deliveries._schedule()
        return deliveries

    @api.model
    def _enqueue_test_event(self, endpoints):
        deliveries = self.sudo().create(
            [
                {
                    "endpoint_id": endpoint.id,
                    "event_type": "webhook.test",
                    **self._envelope(
                        "webhook.test",
                        self.env[endpoint.event_type_id.res_model]._webhook_sample_data(
                            endpoint.event_type, endpoint.user_id
                        ),
                    ),
                }
                for endpoint in endpoints
            ]
        )
        deliveries._schedule()
        return deliveries

    @api.model
    def _envelope(self, event_type, data):
        event_id = f"evt_{uuid.uuid4().hex}"
        body = json.dumps(
            {
                "id": event_id,
                "type": event_type,
                "timestamp": fields.Datetime.now().isoformat() + "Z",
                "data": data,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return {"event_id": event_id, "body": body}

    def _schedule(self, delay=0):
        """One queue_job job per delivery, in the current transaction."""
        for delivery in self:
            delivery.with_delay(
                channel=CHANNEL,
                eta=timedelta(seconds=delay) if delay else None,
                # queue_job retries only after a crash (dead worker); the
                # delivery schedule is our own (_record_attempt).
                max_retries=5,
                description=f"Webhook {delivery.event_type} to endpoint "
                f"#{delivery.endpoint_id.id}",
            )._deliver_job()

    # ------------------------------------------------------------------
    # Delivery: one attempt per job
    # ------------------------------------------------------------------

    def _deliver_job(self):
        """Try once; record the attempt; schedule the next one or conclude."""
        self.ensure_one()
        delivery = self.sudo()
        if delivery.state not in ("pending", "retrying"):
            return "nothing to do"
        endpoint = delivery.endpoint_id
        owner = endpoint.user_id
        if endpoint.state != "enabled" or not (
            owner.active and owner.has_group(GROUP_XMLID)
        ):
            delivery.write({"state": "cancelled", "next_attempt_at": False})
            return "cancelled: endpoint disabled or owner without access"

        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"coop-developer-settings/{MODULE_VERSION} (Odoo)",
            **signing.headers(
                endpoint._signing_secrets(), delivery.event_id, time.time(), body
            ),
        }
        now = fields.Datetime.now()
        outcome = client.post(
            endpoint.url,
            body,
            headers,
            connect_timeout=float(
                webhook_param(self.env, "webhook_connect_timeout", 5)
            ),
            total_timeout=float(webhook_param(self.env, "webhook_total_timeout", 15)),
            allowed_networks=endpoint._url_settings()[1],
        )
        delivery._record_attempt(now, outcome)
        return f"{outcome.disposition} ({outcome.status or outcome.error})"

    def _record_attempt(self, when, outcome):
        attempts = self.attempt_count + 1
        self.env["coop.webhook.attempt"].sudo().create(
            {
                "delivery_id": self.id,
                "attempted_at": when,
                "status_code": outcome.status,
                "duration_ms": int(outcome.duration * 1000),
                "response": outcome.response,
                "error": outcome.error,
            }
        )
        values = {
            "attempt_count": attempts,
            "last_status": outcome.status,
            "last_error": outcome.error or False,
            "next_attempt_at": False,
        }
        endpoint = self.endpoint_id
        delay = None
        if outcome.disposition == "done":
            values["state"] = "done"
        elif outcome.disposition == "retry":
            schedule = retry.parse_schedule(
                webhook_param(self.env, "webhook_retry_schedule", "")
            )
            delay = retry.next_delay(attempts, schedule, outcome.retry_after)
            values["state"] = "retrying" if delay is not None else "failed"
            endpoint._record_failure()
        else:
            values["state"] = "failed"
            endpoint._record_failure(gone=outcome.disposition == "gone")
        if delay is not None and endpoint.state == "enabled":
            values["next_attempt_at"] = fields.Datetime.now() + timedelta(seconds=delay)
            self.write(values)
            self._schedule(delay=delay)
        else:
            if values["state"] == "retrying":
                values["state"] = "cancelled"  # the endpoint was just disabled
            self.write(values)

    # ------------------------------------------------------------------
    # Actions and housekeeping
    # ------------------------------------------------------------------

    def action_redeliver(self):
        """Send again, same event id and body, from a fresh schedule."""
        self.check_access("read")
        deliveries = self.sudo()
        # A fresh retry schedule; the attempts already made stay in the log.
        deliveries.write(
            {"state": "pending", "attempt_count": 0, "next_attempt_at": False}
        )
        deliveries._schedule()
        return True

    @api.model
    def _cron_purge(self):
        days = int(webhook_param(self.env, "webhook_retention_days", 30))
        old = self.sudo().search(
            [
                ("state", "=", "done"),
                ("create_date", "<", fields.Datetime.now() - timedelta(days=days)),
            ]
        )
        old.unlink()
        return len(old)
