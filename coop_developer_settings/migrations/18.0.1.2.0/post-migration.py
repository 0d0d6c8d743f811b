# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""18.0.1.2.0: webhook signing secrets are encrypted at rest; the
Developer settings access given on its own is recorded; stranded deliveries
are looked for every 2 minutes (the cron is noupdate).

The clear secrets of the former secret and previous_secret columns are
sealed into the columns the endpoint model now keeps them in (created by
its init(), before this script), then the clear columns are dropped. The
secrets themselves do not change: receivers verify as before. Without a
configured key, the first seal creates the key file in the data directory.
"""

import logging

from odoo import SUPERUSER_ID, api
from odoo.tools import sql

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    _record_access_given_on_its_own(env)
    _requeue_stranded_every_two_minutes(env)
    if not sql.column_exists(cr, "coop_webhook_endpoint", "secret"):
        return
    endpoints = env["coop.webhook.endpoint"]
    cr.execute("SELECT id, secret, previous_secret FROM coop_webhook_endpoint")
    rows = cr.fetchall()
    for endpoint_id, secret, previous in rows:
        endpoints.browse(endpoint_id)._store_secrets(secret, previous)
    cr.execute(
        "ALTER TABLE coop_webhook_endpoint "
        "DROP COLUMN secret, DROP COLUMN previous_secret"
    )
    _logger.info("%s webhook endpoints: signing secrets encrypted", len(rows))


def _record_access_given_on_its_own(env):
    """Whoever holds the access without a group that implies it was given
    it on its own: kept if they are made administrators, then no longer.
    (Administrators' own grants cannot be told apart from the implied one.)"""
    users = env["res.users"]
    on_its_own = (
        users._coop_users_with_access() - users._coop_users_with_implying_group()
    )
    on_its_own.coop_developer_access_direct = True


def _requeue_stranded_every_two_minutes(env):
    """Was hourly: a database restart left deliveries waiting up to an hour.
    An interval an administrator chose (not the old default) is kept."""
    cron = env.ref(
        "coop_developer_settings.ir_cron_requeue_stranded_webhook_deliveries",
        raise_if_not_found=False,
    )
    if cron and (cron.interval_number, cron.interval_type) == (1, "hours"):
        cron.write({"interval_number": 2, "interval_type": "minutes"})
