# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""18.0.1.2.0: webhook signing secrets are encrypted at rest.

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
    if not sql.column_exists(cr, "coop_webhook_endpoint", "secret"):
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
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
