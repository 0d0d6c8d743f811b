# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The sync of a connection: pages of the shop's buyers (the buyer API's
sync contract) sent to the provider in queue_job jobs, the cursor moved
only once the provider accepted a page."""

import dataclasses
import hashlib
import logging
import math
from datetime import date

import phonenumbers
import psycopg2

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import ENQUEUED, PENDING, STARTED

from ..newsletter import brevo, provider
from .coop_buyer_sql import SINGLE_ADDRESS

_logger = logging.getLogger(__name__)

# Buyers per page of the buyer list; pages a sync job sends at once, per
# provider: one provider call (or a few) and one commit per job. A Brevo
# import takes 10 000 contacts, and the polls of its status count against
# Brevo's 100 requests an hour: fewer imports of more buyers
# (benchmarks/README.md, the newsletter sync). Mailchimp's batches hold 500.
PAGE_SIZE = 1000
PAGES_PER_JOB = {"brevo": brevo.IMPORT_BATCH // PAGE_SIZE, "mailchimp": 1}
COUNTS = {
    "subscribed": "last_sync_subscribed",
    "opted_out": "last_sync_opted_out",
    "removed": "last_sync_removed",
    "rejected": "last_sync_rejected",
    "none": "last_sync_skipped_none",
    "several": "last_sync_skipped_several",
}


class CoopNewsletterConnection(models.Model):
    _inherit = "coop.newsletter.connection"

    # The buyer API's cursor: where the next page starts (a sync under way)
    # or what changed since the last sync (its sync_cursor). It moves only
    # once the provider accepted the page before it.
    sync_cursor = fields.Char(readonly=True, copy=False)
    last_sync_at = fields.Datetime(string="Last sync", readonly=True, copy=False)
    failing_since = fields.Datetime(readonly=True, copy=False)
    last_error = fields.Char(string="Provider's last error", readonly=True, copy=False)
    last_sync_subscribed = fields.Integer(string="Subscribed", readonly=True)
    last_sync_opted_out = fields.Integer(string="Opted out", readonly=True)
    last_sync_removed = fields.Integer(string="Removed", readonly=True)
    last_sync_rejected = fields.Integer(string="Refused by the provider", readonly=True)
    last_sync_skipped_none = fields.Integer(
        string="Skipped: no valid address", readonly=True
    )
    last_sync_skipped_several = fields.Integer(
        string="Skipped: several addresses", readonly=True
    )

    def action_sync_now(self):
        self.check_access("write")
        self._check_connected()
        for connection in self:
            if not connection.list_id:
                raise UserError(self.env._("Choose the list to sync into first."))
        self.sudo().filtered(lambda c: c.state != "failing").write({"state": "syncing"})
        self._enqueue_sync()
        return True

    def _enqueue_sync(self):
        """Queue the first page of each one's sync, unless its sync has a
        job waiting or running (a second chain would send the same pages
        again and reset the counts); returns those queued."""
        connections = self.sudo() - self.sudo()._with_sync_job()
        for connection in connections:
            connection.with_delay(
                identity_key=_sync_identity,
                description=self.env._(
                    "Newsletter sync of %(account)s", account=connection.account_name
                ),
            )._sync_job(first=True)
        return connections

    def _with_sync_job(self):
        """Those whose sync has a job waiting or running: queue_job's
        identity check sees only the waiting ones."""
        keys = {_sync_identity_key(connection.id): connection for connection in self}
        jobs = (
            self.env["queue.job"]
            .sudo()
            .search(
                [
                    ("identity_key", "in", list(keys)),
                    ("state", "in", [PENDING, ENQUEUED, STARTED]),
                ]
            )
        )
        return self.browse([keys[job.identity_key].id for job in jobs])

    @api.model
    def _cron_sync(self):
        """Every working connection, from its cursor; those still shown
        syncing too (a job that crashed past its retries would leave them
        so for good), unless a job of their sync is still under way."""
        connections = self.sudo().search(self._working_domain())
        return connections._enqueue_sync()

    def _sync_job(self, first=False):
        """One page of the buyer list into the provider; the next page in a
        job of its own (each page commits with its job)."""
        connection = self.sudo().exists()
        if not connection or connection.state == "disconnected":
            return "disconnected"
        if not connection.list_id:
            return "no list"
        connection._lock()
        more = connection._sync_page(first)
        if more:
            connection.with_delay(identity_key=_sync_identity)._sync_job()
        return "more" if more else "done"

    def _lock(self):
        """One page of a connection at a time: another job waits its turn."""
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM coop_newsletter_connection WHERE id = %s "
                        "FOR NO KEY UPDATE NOWAIT",
                        self.id,
                    ),
                    log_exceptions=False,  # expected: jobs run at once
                )
        except psycopg2.errors.LockNotAvailable:
            # Waiting its turn is not a try: it must not use up max_retries.
            raise RetryableJobError(
                "another page of this connection is being synced",
                seconds=5,
                ignore_retry=True,
            ) from None
        self.invalidate_recordset()

    def _sync_page(self, first=False):
        """Send one page; move the cursor once the provider accepted it.
        Provider errors are recorded on the connection (the cursor stays).
        Returns whether more pages follow."""
        self.ensure_one()
        try:
            page = self._buyer_page()
        except UserError as exc:  # the owner lost the shop, a bad cursor
            self._record_failure(str(exc.args[0]))
            return False
        contacts, counts = self._contacts(page["data"])
        try:
            result = self._send(contacts)
        except provider.RateLimited as exc:
            raise RetryableJobError(
                exc.message, seconds=math.ceil(exc.reset) + 1, ignore_retry=True
            ) from None
        except provider.ProviderError as exc:
            self._record_failure(f"{exc.provider}: {exc.message}")
            return False
        except UserError as exc:  # no key any more, or it cannot be opened
            self._record_failure(str(exc.args[0]))
            return False
        counts.update(
            subscribed=result.subscribed,
            opted_out=result.opted_out,
            removed=result.removed,
            rejected=len(result.rejected),
        )
        more = bool(page["next_cursor"])
        values = {
            "sync_cursor": page["next_cursor"] or page["sync_cursor"],
            "state": "syncing" if more else "connected",
            "failing_since": False,
            "last_error": False,
        }
        for name, column in COUNTS.items():
            values[column] = counts[name] + (0 if first else self[column])
        if not more:
            values["last_sync_at"] = fields.Datetime.now()
        self.write(values)
        return more

    def _send(self, contacts):
        """The provider's SyncResult of contacts; a full import first adds
        to the list the fields the sync fills that it lacks."""
        full_import = not self.sync_cursor
        if not contacts and not full_import:
            return provider.SyncResult()
        with self._connected_client() as client:
            if full_import:
                client.ensure_fields(self.list_id, self._field_labels())
            if not contacts:
                return provider.SyncResult()
            return client.upsert_contacts(self.list_id, contacts)

    def _ensure_list_fields(self, list_id):
        """Add to the list the fields the sync fills that it lacks; a
        provider error is a UserError."""
        try:
            with self._connected_client() as client:
                client.ensure_fields(list_id, self._field_labels())
        except provider.ProviderError as exc:
            raise UserError(
                self.env._(
                    "The fields the sync fills could not be added to this list: "
                    "%(reason)s",
                    reason=self._error_text(exc),
                )
            ) from None

    def _field_labels(self):
        """The names of the fields the sync fills, as the tool shows them
        when it creates them: in the owner's language."""
        owner = self.with_context(lang=self._owner_lang())
        return {
            "first_name": owner.env._("First name"),
            "last_name": owner.env._("Last name"),
            "phone": owner.env._("Phone"),
            "shop": owner.env._("Shop"),
            "first_order": owner.env._("First order"),
            "last_order": owner.env._("Last order"),
            "order_count": owner.env._("Orders"),
            "last_cycle": owner.env._("Last sale cycle"),
        }

    def _record_failure(self, message):
        self.write(
            {
                "state": "failing",
                "failing_since": self.failing_since or fields.Datetime.now(),
                "last_error": message[:500],
            }
        )
        _logger.info(
            "newsletter connection %s: sync failed, cursor kept: %s", self.id, message
        )
        self._warn_if_failing_long()

    def _buyer_page(self):
        """The next pages of the shop's buyers (PAGES_PER_JOB of the provider
        at most) as one page, read with the owner's rights: their rows, the last page's
        cursors."""
        owner_env = self.env(user=self.user_id.id, su=False, context={})
        Buyer = owner_env["coop.buyer"]
        rows = []
        cursor = self.sync_cursor or None
        for _page in range(PAGES_PER_JOB[self.provider]):
            page = Buyer._buyer_page(
                company_id=self.company_id.id, cursor=cursor, limit=PAGE_SIZE
            )
            rows += page["data"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        return dict(page, data=rows)

    def _contacts(self, rows):
        """(contacts, counts of the skipped): one contact per address (see
        _by_address). A former address is taken off the list only when no
        buyer of the shop has it any more."""
        counts = dict.fromkeys(COUNTS, 0)
        by_address, previous = self._by_address(rows, counts)
        removed = [
            address
            for address, contact in by_address.items()
            if contact.state == provider.REMOVED
        ]
        former = {old for olds in previous.values() for old in olds}
        still_bought = self._addresses_still_bought(removed + sorted(former))
        # Another active buyer of the shop still has the address: it stays.
        for address in still_bought.intersection(removed):
            del by_address[address]
        # A former address is taken off once, and only when no buyer of the
        # page or of the shop has it any more; a row that lost the dedup
        # passes its own to the winner, or to a removal of its own.
        to_take_off = former - set(by_address) - still_bought
        contacts = []
        for address, contact in by_address.items():
            olds = [old for old in previous.get(address, ()) if old in to_take_off]
            # (None is "not in" an empty list: no copy then.)
            if contact.previous_email not in olds and (olds or contact.previous_email):
                contact = dataclasses.replace(
                    contact, previous_email=olds[0] if olds else None
                )
            to_take_off.discard(contact.previous_email)
            contacts.append(contact)
        contacts += [
            provider.Contact(old, state=provider.REMOVED) for old in sorted(to_take_off)
        ]
        return contacts, counts

    def _by_address(self, rows, counts):
        """({address: contact}, {address: its rows' former addresses}), the
        rows without a valid address counted in counts. When buyers share an
        address, an active buyer wins over a removed one, then the latest
        order; an address opted out stays opted out."""
        partners = {
            partner.id: partner
            for partner in self.env["res.partner"]
            .sudo()
            .browse({row["partner_id"] for row in rows} - {None, False})
            .exists()
        }
        by_address = {}
        previous = {}
        for row in rows:
            try:
                address = _row_address(row)
            except provider.InvalidEmail as exc:
                counts[exc.reason] += 1
                continue
            contact = self._contact(address, row, partners.get(row["partner_id"]))
            if contact.moved:
                previous.setdefault(address, []).append(contact.previous_email)
            kept = by_address.get(address)
            if kept is not None:
                opted_out = provider.OPTED_OUT in (kept.state, contact.state)
                contact = max(kept, contact, key=_rank)
                if opted_out and contact.state == provider.SUBSCRIBED:
                    contact = dataclasses.replace(contact, state=provider.OPTED_OUT)
            by_address[address] = contact
        return by_address, previous

    def _addresses_still_bought(self, addresses):
        """Those an active buyer of the shop has, by the rule of the pages:
        the buyer's one address (none when the field holds several)."""
        if not addresses:
            return set()
        self.env.flush_all()  # the buyer rows are written by triggers
        single = SQL(SINGLE_ADDRESS.format(row="b"))  # pylint: disable=sql-injection
        rows = self.env.execute_query(
            SQL(
                "SELECT DISTINCT %s FROM coop_buyer b WHERE b.company_id = %s "
                "AND b.active AND b.email_normalized = ANY(%s) AND %s = ANY(%s)",
                single,
                self.company_id.id,
                list(addresses),
                single,
                list(addresses),
            )
        )
        return {address for (address,) in rows}

    def _contact(self, address, row, partner):
        previous = row.get("previous_email")
        if previous:
            try:
                previous = provider.normalise_email(previous)
            except provider.InvalidEmail:
                previous = None
        if row.get("removed"):
            return provider.Contact(
                address, state=provider.REMOVED, previous_email=previous or None
            )
        first, last = _split_name(row.get("name") or "", partner)
        country = (
            partner and partner.country_id.code
        ) or self.company_id.country_id.code
        return provider.Contact(
            address,
            state=provider.OPTED_OUT if row.get("opt_out") else provider.SUBSCRIBED,
            first_name=first,
            last_name=last,
            phone=_e164(row.get("phone"), country),
            shop=row["company"]["name"] or "",
            first_order=_date(row.get("first_order_date")),
            last_order=_date(row.get("last_order_date")),
            order_count=row.get("order_count") or 0,
            last_cycle=(row.get("last_cycle") or {}).get("name") or "",
            previous_email=previous or None,
        )


def _row_address(row):
    """The page's own address of the buyer (its email_normalized), the one
    the still-bought check compares; InvalidEmail (none, several) when the
    page has none or the provider would not take it."""
    address = row.get("email_normalized")
    if not address:
        provider.normalise_email(row.get("email"))  # raises with the reason
        raise provider.InvalidEmail("none")
    try:
        valid = provider.normalise_email(address) == address
    except provider.InvalidEmail:
        valid = False
    if not valid:
        raise provider.InvalidEmail("none")
    return address


def _sync_identity_key(connection_id):
    """One sync job per connection, whatever its arguments (first or not)."""
    text = f"coop.newsletter.connection,{connection_id},_sync_job"
    return hashlib.sha1(text.encode()).hexdigest()


def _sync_identity(job_):
    return _sync_identity_key(job_.recordset.id)


def _rank(contact):
    return (contact.state != provider.REMOVED, contact.last_order or date.min)


def _split_name(name, partner):
    """(first, last): a person's first word and the rest; a company's name
    whole, as the first name (what greetings use)."""
    name = " ".join(name.split())
    if partner and partner.is_company:
        return name, ""
    first, _space, last = name.partition(" ")
    return first, last


def _e164(phone, country):
    """The number in E.164, or None when it does not parse."""
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, country or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _date(value):
    return fields.Datetime.to_datetime(value).date() if value else None
