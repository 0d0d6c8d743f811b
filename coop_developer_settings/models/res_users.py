# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError

GROUP_XMLID = "coop_developer_settings.group_developer_settings"
# The user form writes groups through these generated fields too.
GROUP_FIELD_PREFIXES = ("in_group_", "sel_groups_")


class ResUsers(models.Model):
    _inherit = "res.users"

    coop_developer_access = fields.Boolean(
        string="Has Developer settings access",
        compute="_compute_coop_developer_access",
    )
    # The keys again, for the Developer settings tab (the native Account
    # Security tab shows api_key_ids its own way).
    coop_api_key_ids = fields.One2many(related="api_key_ids", string="API keys")
    coop_webhook_endpoint_ids = fields.One2many(
        "coop.webhook.endpoint", "user_id", string="Webhooks"
    )
    coop_webhook_event_type_ids = fields.Many2many(
        "coop.webhook.event.type",
        string="Webhook events",
        compute="_compute_coop_webhook_event_type_ids",
    )
    coop_revoke_on_access_removal = fields.Boolean(
        string="On removal of the access, revoke API keys and disable webhooks",
        compute="_compute_coop_revoke_on_access_removal",
        inverse="_inverse_coop_revoke_on_access_removal",
        help="When Developer settings access is removed from this user, their "
        "API keys are revoked and their webhooks disabled. Untick to keep them.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + [
            "coop_developer_access",
            "coop_api_key_ids",
            "coop_webhook_endpoint_ids",
            "coop_webhook_event_type_ids",
        ]

    @api.depends("groups_id")
    def _compute_coop_developer_access(self):
        group = self.env.ref(GROUP_XMLID)
        for user in self:
            user.coop_developer_access = group in user.groups_id

    def _compute_coop_webhook_event_type_ids(self):
        # The rows of the Webhooks section: one per event users can subscribe to.
        self.coop_webhook_event_type_ids = self.env["coop.webhook.event.type"].search(
            [("subscribable", "=", True)]
        )

    def _compute_coop_revoke_on_access_removal(self):
        # Not stored: a choice made with each removal, on by default.
        self.coop_revoke_on_access_removal = True

    def _inverse_coop_revoke_on_access_removal(self):
        """Read by write() in the same call; nothing to store."""

    def _coop_check_developer_access(self):
        if not self.env.user.has_group(GROUP_XMLID):
            raise AccessError(
                self.env._(
                    "Only users with Developer settings access can manage API keys "
                    "and webhooks here. Ask an administrator for the access."
                )
            )

    def action_coop_generate_api_key(self):
        """The Generate API key button of the Developer settings tab."""
        self.ensure_one()
        if self != self.env.user:
            raise AccessError(
                self.env._("You can only generate API keys for yourself.")
            )
        self._coop_check_developer_access()
        return {
            "type": "ir.actions.act_window",
            "res_model": "coop.api.key.wizard",
            "name": self.env._("Generate an API key"),
            "target": "new",
            "views": [(False, "form")],
        }

    def write(self, vals):
        revoke = vals.pop("coop_revoke_on_access_removal", True)
        touches_groups = "groups_id" in vals or any(
            key.startswith(GROUP_FIELD_PREFIXES) for key in vals
        )
        had_access = (
            self.filtered("coop_developer_access") if touches_groups else self.browse()
        )
        result = super().write(vals)
        if had_access:
            had_access.invalidate_recordset(["coop_developer_access"])
            lost = had_access.filtered(lambda user: not user.coop_developer_access)
            if lost:
                lost._coop_on_access_removed(revoke)
        return result

    def _coop_on_access_removed(self, revoke):
        """Developer settings access was just removed from these users."""
        for user in self:
            if revoke:
                keys = user.sudo().api_key_ids
                count = len(keys)
                keys.unlink()
                user.sudo().coop_webhook_endpoint_ids.filtered(
                    lambda endpoint: endpoint.state == "enabled"
                ).write(
                    {
                        "state": "disabled",
                        "disabled_reason": self.env._(
                            "Developer settings access removed."
                        ),
                    }
                )
                body = self.env._(
                    "Developer settings access removed by %(admin)s: %(count)s API "
                    "key(s) revoked and webhooks disabled.",
                    admin=self.env.user.name,
                    count=count,
                )
            else:
                body = self.env._(
                    "Developer settings access removed by %(admin)s; API keys and "
                    "webhooks kept on request.",
                    admin=self.env.user.name,
                )
            user.partner_id.sudo().message_post(
                body=Markup("<p>%s</p>") % body, subtype_xmlid="mail.mt_note"
            )
