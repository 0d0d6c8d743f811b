# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class ResUsersApikeysShow(models.AbstractModel):
    """The page that shows a new key once, with how to use it.

    Like Odoo's, an abstract model: nothing of it is ever stored.
    """

    _inherit = "res.users.apikeys.show"

    coop_database = fields.Char(string="Database", readonly=True)
    coop_login = fields.Char(string="Login", readonly=True)
    coop_base_url = fields.Char(string="Server", readonly=True)
    # What the key opens (a scope of coop.api.key.wizard): how to use it.
    coop_scope = fields.Char(string="Access", readonly=True)
