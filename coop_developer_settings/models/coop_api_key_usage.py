# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import logging

import psycopg2

from odoo import fields, models

_logger = logging.getLogger(__name__)


class CoopApiKeyUsage(models.Model):
    """When each API key last authenticated.

    Kept beside Odoo's own API key table (which this module does not alter),
    so that uninstalling leaves that table as it was.
    """

    _name = "coop.api.key.usage"
    _description = "API key usage"
    _log_access = False

    key_id = fields.Many2one(
        "res.users.apikeys", required=True, ondelete="cascade", index=True
    )
    last_used = fields.Datetime(required=True)

    _sql_constraints = [
        ("key_unique", "UNIQUE(key_id)", "One usage line per API key."),
    ]

    def _record_use(self, user_id, key_index):
        """Stamp the keys of user_id that start with key_index, at most once a
        minute each. A failure here never fails the login that called it."""
        self.env.cr.execute(
            """
            SELECT 1 FROM coop_api_key_usage u
              JOIN res_users_apikeys k ON k.id = u.key_id
             WHERE k.user_id = %s AND k.index = %s
               AND u.last_used > (now() at time zone 'utc') - interval '1 minute'
            """,
            [user_id, key_index],
        )
        if self.env.cr.fetchone():
            return  # throttled: a read, no write
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    """
                    INSERT INTO coop_api_key_usage (key_id, last_used)
                    SELECT id, now() at time zone 'utc' FROM res_users_apikeys
                     WHERE user_id = %s AND index = %s
                    ON CONFLICT (key_id) DO UPDATE SET last_used = EXCLUDED.last_used
                    """,
                    [user_id, key_index],
                    # A race lost is expected (warned below); not mute_logger:
                    # it mutes the logger for every thread of the process.
                    log_exceptions=False,
                )
        except psycopg2.Error as error:
            # E.g. concurrent logins with one key racing on the same row: the
            # other login stamps it; this one must still succeed.
            _logger.warning("API key use of user %s not recorded: %s", user_id, error)
