# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A connection whose sync keeps failing tells its owner, once per failing
streak, by email: the list in the tool is getting stale, and the
newsletters sent at the sale cycles' events go to it."""

import logging
from datetime import timedelta

from odoo import fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Failing for this long (four syncs of the default 15-minute cron) before
# the owner hears of it: a provider's short outage mends itself.
WARN_FAILING_AFTER = timedelta(hours=1)


class CoopNewsletterConnection(models.Model):
    _inherit = "coop.newsletter.connection"

    # The failing_since of the streak the owner was warned about.
    warned_failing_since = fields.Datetime(readonly=True, copy=False)

    def _warn_if_failing_long(self):
        """Warn the owner once the sync has failed for WARN_FAILING_AFTER,
        once per streak (a successful sync ends it)."""
        self.ensure_one()
        since = self.failing_since
        if not since or since > fields.Datetime.now() - WARN_FAILING_AFTER:
            return False
        if not self._claim_warning(since):
            return False
        env = self.with_context(lang=self._owner_lang()).env
        self._notify_owner(
            env._(
                "Newsletter tool failing: %(provider)s (%(account)s)",
                provider=self._provider_name(),
                account=self.account_name,
            ),
            env._(
                "The buyers of %(shop)s have not reached %(provider)s (%(account)s) "
                "since %(since)s (UTC). Last error: “%(error)s”. The sync keeps "
                "trying every few minutes. If the API key was revoked or changed, "
                "disconnect and connect again with a new key: Preferences › "
                "Developer settings › Newsletter tools.",
                shop=self.company_id.sudo().name,
                provider=self._provider_name(),
                account=self.account_name,
                since=fields.Datetime.to_string(since),
                error=self.last_error or "",
            ),
        )
        _logger.info("newsletter connection %s: owner warned of failing", self.id)
        return True

    def _claim_warning(self, failing_since):
        """Mark this streak as warned about; False if it already was (by a
        concurrent job, say)."""
        self.flush_recordset(["warned_failing_since"])
        self.env.cr.execute(
            SQL(
                "UPDATE coop_newsletter_connection SET warned_failing_since = %s "
                "WHERE id = %s AND warned_failing_since IS DISTINCT FROM %s "
                "RETURNING id",
                failing_since,
                self.id,
                failing_since,
            )
        )
        claimed = bool(self.env.cr.fetchone())
        self.invalidate_recordset(["warned_failing_since"])
        return claimed

    def _notify_owner(self, subject, body):
        """An email (or inbox message, by the owner's preference) to the
        owner. A plain text body: Odoo escapes it (names are user text)."""
        self.env["mail.thread"].sudo().message_notify(
            partner_ids=self.user_id.partner_id.ids, subject=subject, body=body
        )
