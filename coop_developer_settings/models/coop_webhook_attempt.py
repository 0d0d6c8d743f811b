# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..webhook import client
from .sql_index import ensure_index

# An attempt that timed out or lasted this long marks its endpoint as slow
# for SLOW_FOR (see _slow_endpoint_ids).
SLOW_ATTEMPT_MS = 3000
SLOW_FOR = timedelta(hours=1)


class CoopWebhookAttempt(models.Model):
    """One HTTP try of a delivery, as the receiver answered it."""

    _name = "coop.webhook.attempt"
    _description = "Webhook delivery attempt"
    _order = "attempted_at desc, id desc"
    _log_access = False

    delivery_id = fields.Many2one(
        "coop.webhook.delivery", required=True, index=True, ondelete="cascade"
    )
    attempted_at = fields.Datetime(required=True)
    status_code = fields.Integer(string="HTTP status")
    duration_ms = fields.Integer(string="Duration (ms)")
    response = fields.Text(help="The first 2 KB of the answer.")
    error = fields.Char()

    def init(self):
        # Looked up with every event queued: the slow attempts only (their
        # threshold may change from a release to the next).
        ensure_index(
            self.env.cr,
            "coop_webhook_attempt_slow_index",
            self._table,
            ["attempted_at"],
            where=f"duration_ms >= {SLOW_ATTEMPT_MS} OR error ^@ '{client.TIMEOUT}'",
        )

    @api.model
    def _slow_endpoint_ids(self, endpoint_ids):
        """Those of endpoint_ids that made an attempt time out or last
        SLOW_ATTEMPT_MS or more within SLOW_FOR: receivers that hang or
        answer slowly.

        Derived from the attempts, like the endpoints' health: deliveries
        never write their endpoint's row.
        """
        if not endpoint_ids:
            return set()
        self.flush_model(["attempted_at", "delivery_id", "duration_ms"])
        self.env["coop.webhook.delivery"].flush_model(["endpoint_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT d.endpoint_id
                  FROM coop_webhook_attempt a
                  JOIN coop_webhook_delivery d ON d.id = a.delivery_id
                 WHERE (a.duration_ms >= %s OR a.error ^@ %s)
                   AND a.attempted_at >= %s
                   AND d.endpoint_id = ANY(%s)
                """,
                SLOW_ATTEMPT_MS,
                client.TIMEOUT,
                fields.Datetime.now() - SLOW_FOR,
                list(endpoint_ids),
            )
        )
        return {endpoint_id for (endpoint_id,) in self.env.cr.fetchall()}
