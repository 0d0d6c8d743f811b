# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from .models.coop_buyer import drop_maintenance


def uninstall_hook(env):
    # Before Odoo drops the coop_buyer table: triggers left on sale_order,
    # res_partner and mail_blacklist would make every later write fail.
    drop_maintenance(env.cr)
