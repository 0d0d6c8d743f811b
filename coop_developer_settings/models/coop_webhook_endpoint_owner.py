# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Who owns an endpoint, and handing it to another user."""

from odoo import models
from odoo.exceptions import AccessError, ValidationError

from .coop_webhook_delivery import IN_FLIGHT
from .res_users import GROUP_XMLID


class CoopWebhookEndpoint(models.Model):
    """Ownership: the owner's rights, the handover, the chatter that follows."""

    _inherit = "coop.webhook.endpoint"

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
                lambda delivery: delivery.state in IN_FLIGHT
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
