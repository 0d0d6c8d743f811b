# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""18.0.1.1.0: the purge cron (noupdate) now purges events and deliveries."""

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
