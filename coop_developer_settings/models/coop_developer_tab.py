# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Developer settings tab's presenter: what its widget asks the server."""

from odoo import api, models
from odoo.exceptions import AccessError, UserError

# The tab's delivery log: at most that many rows per call.
MAX_TAB_DELIVERIES = 200


class CoopWebhookEndpoint(models.Model):
    """The tab's endpoint rows, its Create and its delivery log."""

    _inherit = "coop.webhook.endpoint"

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


class ResUsers(models.Model):
    _inherit = "res.users"

    def _coop_check_tab_access(self):
        """Who sees this user's Developer settings tab: the user themselves
        (with the access) or an administrator."""
        self.ensure_one()
        if self != self.env.user:
            if not self.env.user.has_group("base.group_system"):
                raise AccessError(
                    self.env._("Only administrators see another user's tab.")
                )
        else:
            self._coop_check_developer_access()

    def coop_developer_tab(self):
        """What the Developer settings tab shows of this user, in one call:
        their API keys, and each event of the catalogue with their endpoints
        and their health. The user themselves (with the access) or an
        administrator."""
        self._coop_check_tab_access()
        endpoints = self.env["coop.webhook.endpoint"].search(
            [("user_id", "=", self.id)]
        )
        return {
            "is_self": self == self.env.user,
            "api_keys": [
                {
                    "id": key.id,
                    "name": key.name,
                    "access": key.coop_access,
                    "create_date": key.create_date,
                    "expiration_date": key.expiration_date,
                    "last_used": key.last_used,
                }
                for key in self.sudo().api_key_ids
            ],
            "events": [
                {
                    "id": event_type.id,
                    "code": event_type.code,
                    "name": event_type.name,
                    "description": event_type.description,
                    "endpoints": endpoints.filtered(
                        lambda endpoint, event_type=event_type: (
                            endpoint.event_type_id == event_type
                        )
                    )._coop_tab_values(),
                }
                for event_type in self.env["coop.webhook.event.type"].search(
                    [("subscribable", "=", True)]
                )
            ],
        }
