# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Endpoint signing secrets: sealed at rest, revealed, rotated."""

from datetime import timedelta

from odoo import fields, models

from odoo.addons.base.models.res_users import check_identity

from ..webhook import signing
from ..webhook.schemas import ROTATION_OVERLAP_HOURS
from .coop_secret_vault import SecretUnreadable


class CoopWebhookEndpoint(models.Model):
    """Signing secrets, sealed at rest (coop.sealed.mixin)."""

    _inherit = "coop.webhook.endpoint"

    def _secret(self):
        """The current signing secret, in clear: for its owner's eyes only
        (callers check access first), or to sign."""
        (current,) = self._coop_read_sealed("secret_sealed")
        return self._coop_unseal("secret_sealed", current)

    def _seal_secrets(self, secret, previous=None):
        """{sealed column: the secret sealed for it, or None}."""
        return self._coop_seal(
            {"secret_sealed": secret, "previous_secret_sealed": previous}
        )

    def _store_secrets(self, secret, previous=None):
        """Seal and store the current and the previous signing secret."""
        self._coop_write_sealed(self._seal_secrets(secret, previous))

    def _signing_secrets(self):
        """The secrets that sign now: the current one, and the previous one
        during the 24 hours after a rotation."""
        self.ensure_one()
        current, previous = self._coop_read_sealed(
            "secret_sealed", "previous_secret_sealed"
        )
        secrets = [self._coop_unseal("secret_sealed", current)]
        until = self.sudo().previous_secret_until
        if previous and until and until > fields.Datetime.now():
            secrets.append(self._coop_unseal("previous_secret_sealed", previous))
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
                    and fields.Datetime.now() + timedelta(hours=ROTATION_OVERLAP_HOURS)
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
