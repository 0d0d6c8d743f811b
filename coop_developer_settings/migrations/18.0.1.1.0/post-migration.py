# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""18.0.1.1.0: the purge cron (noupdate) now purges events and deliveries;
the Developer settings access given on its own is recorded."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    cron = env.ref(
        "coop_developer_settings.ir_cron_purge_webhook_deliveries",
        raise_if_not_found=False,
    )
    if cron:
        cron.name = "Webhooks: purge old events and deliveries"
    # Whoever holds the access without a group that implies it was given it
    # on its own: kept if they are made administrators, then no longer.
    # (Administrators' own grants cannot be told apart from the implied one.)
    users = env["res.users"]
    on_its_own = (
        users._coop_users_with_access() - users._coop_users_with_implying_group()
    )
    on_its_own.coop_developer_access_direct = True
