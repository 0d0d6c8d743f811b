# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Newsletter tools section of the Developer settings tab: what it
shows of a user's connections, in one call."""

from odoo import api, models
from odoo.exceptions import UserError

from ..webhook.schemas import is_record_id


class CoopNewsletterConnection(models.Model):
    _inherit = "coop.newsletter.connection"

    @api.model
    def coop_tab(self, user_id):
        """The user's connections as the tab shows them, and the shops a new
        one may sync. The same gate as the rest of the tab: the user
        themselves (with the access) or an administrator. The key is only
        ever its last characters."""
        user = self.env["res.users"]
        if is_record_id(user_id):
            user = user.browse(user_id).exists()
        if not user:
            raise UserError(self.env._("No such user."))
        user._coop_check_tab_access()
        connections = self.search([("user_id", "=", user.id)])
        return {
            "is_self": user == self.env.user,
            "shops": [
                {"id": company.id, "name": company.name}
                for company in user.sudo().company_ids.sorted("name")
            ],
            "connections": connections._coop_tab_values(),
        }

    def _coop_tab_values(self):
        states = dict(self._fields["state"]._description_selection(self.env))
        # One look at web.base.url for all: the same for every connection.
        public_address = bool(self._optout_base_url())
        return [
            {
                "id": connection.id,
                "provider": connection.provider,
                "provider_name": connection._provider_name(),
                "account_name": connection.account_name,
                "key_hint": connection.key_hint,
                "shop": connection.company_id.sudo().name,
                "list_id": connection.list_id,
                "list_name": connection.list_name,
                "state": connection.state,
                "state_label": states[connection.state],
                "disconnected_reason": connection.disconnected_reason,
                "last_sync_at": connection.last_sync_at,
                "failing_since": connection.failing_since,
                "last_error": connection.last_error,
                "counts": {
                    "subscribed": connection.last_sync_subscribed,
                    "opted_out": connection.last_sync_opted_out,
                    "removed": connection.last_sync_removed,
                    "rejected": connection.last_sync_rejected,
                    "skipped_none": connection.last_sync_skipped_none,
                    "skipped_several": connection.last_sync_skipped_several,
                },
                "optout_active": bool(connection.optout_webhook_id),
                # The server cannot receive the tool's opt-outs: the tab
                # says what to ask for instead of the provider's reason.
                "optout_needs_public_address": bool(
                    connection.list_id
                    and connection.state != "disconnected"
                    and not connection.optout_webhook_id
                    and not public_address
                ),
                "optout_status": connection.optout_status,
            }
            for connection in self
        ]
