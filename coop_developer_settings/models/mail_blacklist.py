# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import models


class MailBlacklist(models.Model):
    # An address joining or leaving the blacklist changes its buyers' opt-out.
    _name = "mail.blacklist"
    _inherit = ["mail.blacklist", "coop.buyer.source"]
