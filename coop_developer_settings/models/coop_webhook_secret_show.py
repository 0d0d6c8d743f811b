# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class CoopWebhookSecretShow(models.AbstractModel):
    """Shows an endpoint's signing secret to its owner; nothing is stored."""

    _name = "coop.webhook.secret.show"
    _description = "Show a webhook signing secret"

    # As in res.users.apikeys.show: needed by the onchange that fills secret.
    id = fields.Id()
    secret = fields.Char(readonly=True)
