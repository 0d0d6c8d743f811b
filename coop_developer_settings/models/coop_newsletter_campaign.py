# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The newsletter of one connection for one sale cycle event: claimed once
in the event's transaction, then made at the provider by queue_job jobs,
one step a job, each looking at the provider before acting."""

import hashlib
import logging
from datetime import timedelta

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError

from ..newsletter import campaign as campaigns
from ..newsletter import provider
from .coop_newsletter_campaign_rule import CAMPAIGN_EVENT_TYPES
from .coop_sale_cycle_webhook import LEAD_TIME_EVENTS

_logger = logging.getLogger(__name__)

# Still to do at the provider, or to cancel there.
ACTIVE_STATES = ("pending", "created", "scheduled")
# How long a campaign waits for its list's sync to end before going ahead.
SYNC_WAIT = timedelta(minutes=30)
SYNC_POLL_SECONDS = 10
# A send time closer than this is a send now (the providers refuse a
# schedule in the past, Mailchimp one before the next quarter-hour).
SEND_NOW_MARGIN = timedelta(minutes=2)
# How long after its send time a scheduled campaign's status is read back.
STATUS_CHECK_AFTER = timedelta(minutes=5)
# Provider unreachable, timing out or failing (5xx): tried again after
# these delays (seconds), then the campaign fails with the last error.
RETRY_DELAYS = (30, 60, 300, 900, 1800, 3600)
# Created at most this long before the record: the look-up's window.
LOOKUP_WINDOW = timedelta(days=1)
# How far the provider's clock may be behind ours (the look-up of a copy
# whose answer was lost starts that much before its request).
CLOCK_MARGIN = timedelta(minutes=5)


class CoopNewsletterCampaign(models.Model):
    """One campaign per (connection, sale cycle, event, occurrence): the
    unique index is the idempotency key of the whole send. ``occurrence``
    is empty for opened / closed and the announced date for opening_soon /
    closing_soon, so that a moved date is a new newsletter; one cancelled
    as too late or out of date has none, so that its event coming again is
    a new newsletter too (one cancelled by hand keeps it)."""

    _name = "coop.newsletter.campaign"
    _description = "Newsletter sent at a sale cycle event"
    _order = "id desc"
    _rec_name = "sale_cycle_id"

    connection_id = fields.Many2one(
        "coop.newsletter.connection",
        string="Connection",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    sale_cycle_id = fields.Many2one(
        "coop.sale.cycle",
        string="Sale cycle",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    event_type = fields.Selection(
        CAMPAIGN_EVENT_TYPES, string="Event", required=True, readonly=True
    )
    occurrence = fields.Char(string="Announced date", readonly=True, default="")
    occurred_at = fields.Datetime(string="Event at", required=True, readonly=True)
    send_at = fields.Datetime(
        string="To send at", required=True, readonly=True, help="Event + delay."
    )
    template_id = fields.Char(readonly=True)
    sender_id = fields.Char(readonly=True)
    subject = fields.Char(readonly=True)
    state = fields.Selection(
        [
            ("pending", "Being prepared"),
            # Not a bare "Created", which other screens use as a column
            # header ("Créée le" in French).
            ("created", "Created at the provider"),
            ("scheduled", "Scheduled"),
            ("sent", "Sent"),
            ("cancelled", "Cancelled"),
            ("failed", "Failed"),
        ],
        default="pending",
        required=True,
        readonly=True,
        index=True,
    )
    provider_campaign_id = fields.Char(string="Campaign at the provider", readonly=True)
    provider_status = fields.Char(readonly=True)
    scheduled_at = fields.Datetime(
        string="Scheduled at", readonly=True, help="As the provider has it."
    )
    report_url = fields.Char(string="Report", readonly=True)
    cancel_reason = fields.Char(readonly=True)
    last_error = fields.Char(string="Provider's last error", readonly=True)
    attempt_count = fields.Integer(readonly=True)
    copy_requested_at = fields.Datetime(
        readonly=True,
        help="A copy of a campaign: when it was first asked of the provider.",
    )

    _sql_constraints = [
        (
            "once",
            "UNIQUE(connection_id, sale_cycle_id, event_type, occurrence)",
            "One newsletter per connection, sale cycle and event.",
        ),
    ]

    # ------------------------------------------------------------------
    # Claimed at the event, in its transaction
    # ------------------------------------------------------------------

    @api.model
    def _claim(self, event_type, due, occurred_at, date_field=None):
        """Claim the newsletters of due, [(rule, cycle)]: returns those this
        transaction claimed (a pair claimed before, by anyone, is left
        out), their first jobs queued, their lists' syncs too."""
        if not due:
            return self.browse()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO coop_newsletter_campaign
                       (connection_id, sale_cycle_id, event_type, occurrence,
                        occurred_at, send_at, template_id, sender_id, subject,
                        state, attempt_count, create_uid, create_date,
                        write_uid, write_date)
                VALUES %s
                ON CONFLICT (connection_id, sale_cycle_id, event_type, occurrence)
                DO NOTHING
                RETURNING id
                """,
                SQL(", ").join(
                    SQL(
                        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', 0, "
                        "%s, %s, %s, %s)",
                        rule.connection_id.id,
                        cycle.id,
                        event_type,
                        fields.Datetime.to_string(cycle[date_field])
                        if date_field
                        else "",
                        occurred_at,
                        occurred_at + timedelta(minutes=rule.delay_minutes),
                        rule.template_id,
                        rule.sender_id or None,
                        rule.subject or None,
                        self.env.uid,
                        occurred_at,
                        self.env.uid,
                        occurred_at,
                    )
                    for rule, cycle in due
                ),
            ),
            # A claim lost to a concurrent transaction is expected (see
            # coop.webhook.reminder's _claim).
            log_exceptions=False,
        )
        # Whoever caused the event (a sales manager, say) needs no rights
        # on the newsletters: the system queues them.
        claimed = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
        claimed.connection_id._enqueue_sync()
        claimed._enqueue()
        return claimed

    @api.model
    def _due_rules(self, event_type, companies):
        """The active settings of that event on working connections of
        these shops."""
        return (
            self.env["coop.newsletter.campaign.rule"]
            .sudo()
            .search(
                [
                    ("event_type", "=", event_type),
                    ("connection_id.company_id", "in", companies.ids),
                    (
                        "connection_id",
                        "any",
                        self.env["coop.newsletter.connection"]._working_domain(),
                    ),
                ],
                order="id",
            )
        )

    def _enqueue(self, eta=None, identity=True):
        """The next step's job. Without identity, even when one waits (a
        cancellation must not wait for a retry's delay)."""
        for campaign in self:
            campaign.with_delay(
                eta=eta,
                identity_key=_campaign_identity if identity else None,
                description=self.env._(
                    "Newsletter of %(cycle)s (%(event)s)",
                    cycle=campaign.sale_cycle_id.name,
                    event=campaign._event_label(),
                ),
            )._campaign_job()

    # ------------------------------------------------------------------
    # The job: one step at a time
    # ------------------------------------------------------------------

    def _campaign_job(self):
        """The next step of the newsletter: cancel it if its cycle moved
        past its event; else create it at the provider (after the list's
        sync, found by its key if it exists already), then, in the next
        job, schedule or send it. Returns the state reached."""
        campaign = self.sudo().exists()
        if not campaign:
            return "gone"
        campaign._lock()
        if campaign.state not in ACTIVE_STATES:
            return campaign.state
        reason = campaign._stale_reason()
        if reason:
            with campaign._provider_errors():
                campaign._cancel(reason)
                if campaign.state == "cancelled":
                    # Its place given back (NULLs never conflict in the
                    # unique index): the event coming again (the cycle
                    # opened again after a cancellation, its date moved
                    # back) makes a new newsletter.
                    campaign.write({"occurrence": False})
            return campaign.state
        if campaign.state == "scheduled" and not campaign._send_time_passed():
            return campaign.state
        connection = campaign.connection_id
        if connection.state == "disconnected" or not connection.list_id:
            if campaign.state == "scheduled":
                return campaign.state  # made: nothing to read its status with
            campaign._fail(
                campaign._owner_env()._(
                    "The connection was disconnected before the newsletter was made."
                )
            )
            return campaign.state
        if campaign.state == "pending" and campaign._waits_for_sync():
            raise RetryableJobError(
                "the list's sync runs first",
                seconds=SYNC_POLL_SECONDS,
                ignore_retry=True,
            )
        if (
            campaign.state == "pending"
            and campaigns.is_copy(campaign.template_id)
            and not campaign.copy_requested_at
        ):
            # Committed before any copy is asked for: a copy whose answer
            # is lost is looked for from then on (the provider's copies get
            # no key until renamed), by the next job.
            campaign.write({"copy_requested_at": fields.Datetime.now()})
            campaign._enqueue()
            return campaign.state
        with campaign._provider_errors():
            with connection._connected_client() as client:
                if campaign.state == "pending":
                    campaign._create(client)
                    # What the provider holds is committed before the next
                    # step, in a job of its own.
                    campaign._enqueue()
                else:
                    campaign._send_or_schedule(client)
        return campaign.state

    def _lock(self, wait=False):
        """One step of a campaign at a time: another job waits its turn
        (wait: this transaction waits for the step under way to end)."""
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM coop_newsletter_campaign WHERE id = %s "
                        "FOR NO KEY UPDATE%s",
                        self.id,
                        SQL("") if wait else SQL(" NOWAIT"),
                    ),
                    log_exceptions=False,  # expected: jobs run at once
                )
        except psycopg2.errors.LockNotAvailable:
            raise RetryableJobError(
                "another step of this newsletter is running",
                seconds=5,
                ignore_retry=True,
            ) from None
        self.invalidate_recordset()

    def _stale_reason(self):
        """Why the newsletter is too late (the webhooks' stale rules), or
        not the connection's any more (its shop changed, or its owner lost
        the cycle's shop: the claim's rule), or out of date (a reminder
        whose date moved: a new one is made for the new date), or None."""
        cycle = self.sale_cycle_id.with_context(lang=self._owner_lang())
        connection = self.connection_id
        if (
            cycle.company_id != connection.company_id
            or cycle.company_id not in connection.user_id.company_ids
        ):
            return cycle.env._(
                "The connection no longer sends the newsletters of this sale "
                "cycle's shop."
            )
        reason = cycle._webhook_stale_reasons(self.event_type).get(cycle.id)
        if reason:
            return reason
        if self._date_moved():
            return cycle.env._("The sale cycle's date moved before it was sent.")
        return None

    def _date_moved(self):
        """Whether the cycle's date this reminder announced is not its date
        any more."""
        if self.event_type not in LEAD_TIME_EVENTS:
            return False
        _state, date_field = LEAD_TIME_EVENTS[self.event_type]
        announced = fields.Datetime.to_string(self.sale_cycle_id[date_field])
        return self.occurrence != announced

    def _waits_for_sync(self):
        waiting = fields.Datetime.now() - self.occurred_at < SYNC_WAIT
        return waiting and bool(self.connection_id._with_sync_job())

    def _key(self):
        """The campaign's idempotency key at the provider: this database's
        and this record's, so that no other database's campaign matches."""
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        database = hashlib.sha256(uuid.encode()).hexdigest()[:8]
        return f"coop-{database}-{self.id}"

    def _draft(self, scheduled_at=None):
        env = self._owner_env()
        requested = self.copy_requested_at
        cycle = self.sale_cycle_id
        return campaigns.Draft(
            key=self._key(),
            name=env._(
                "%(cycle)s: %(event)s", cycle=cycle.name, event=self._event_label()
            ),
            list_id=self.connection_id.list_id,
            template_id=self.template_id,
            sender_id=self.sender_id or "",
            subject=self.connection_id._newsletter_subject(self.subject, cycle),
            parameters=cycle._newsletter_parameters(),
            scheduled_at=scheduled_at,
            # Only after a try whose outcome is unknown (a timeout, an
            # error): on a first try, a copy of the same campaign is a
            # volunteer's own, never taken.
            lost_copy_since=requested - CLOCK_MARGIN
            if requested and self.attempt_count
            else None,
        )

    def _create(self, client):
        """The campaign at the provider: the one with this key if an
        earlier try made it (its answer lost), else a new one."""
        since = self.create_date - LOOKUP_WINDOW
        found = client.find_campaign(self._key(), self.connection_id.list_id, since)
        if found:
            campaign_id = found.id
        else:
            if campaigns.is_copy(self.template_id):
                # One copy of a campaign at a time in this database: no two
                # newsletters take the same copy whose answer was lost.
                self.env.cr.execute(
                    SQL(
                        "SELECT pg_advisory_xact_lock(hashtext(%s))",
                        f"coop-newsletter-copy-{self.template_id}",
                    )
                )
            # Brevo schedules at creation; Mailchimp (content, then
            # schedule) and a send now are the next step's.
            later = self.send_at > fields.Datetime.now() + SEND_NOW_MARGIN
            brevo = self.connection_id.provider == "brevo"
            campaign_id = client.create_campaign(
                self._draft(self.send_at if later and brevo else None)
            )
        self.write(
            {
                "provider_campaign_id": campaign_id,
                "state": "created",
                "last_error": False,
            }
        )

    def _send_or_schedule(self, client):
        """What the provider holds first: a campaign already scheduled or
        sent (an answer lost) is recorded, never scheduled or sent again."""
        current = client.campaign(self.provider_campaign_id)
        if self._not_its_own(current):
            # Never filled, scheduled or sent; the newsletter's own is
            # looked for by its key, by the next try.
            self.write({"state": "pending", "provider_campaign_id": False})
            self._retry_later(
                self._owner_env()._(
                    "%(provider)s gave the id of another campaign (%(name)s): it "
                    "was left as it is.",
                    provider=self.connection_id._provider_name(),
                    name=current.name[:100],
                )
            )
            return
        if current.status == campaigns.DRAFT and self.state == "created":
            client.set_content(self.provider_campaign_id, self._draft())
            if self.send_at <= fields.Datetime.now() + SEND_NOW_MARGIN:
                client.send_campaign(self.provider_campaign_id)
            else:
                client.schedule_campaign(self.provider_campaign_id, self.send_at)
            current = client.campaign(self.provider_campaign_id)
        was = self.state
        self._record(current)
        if self.state != "scheduled":
            return
        check_at = (self.scheduled_at or self.send_at) + STATUS_CHECK_AFTER
        if was == "created" or check_at > fields.Datetime.now():
            # Once its time has come (its new time, if moved at the
            # provider), what the provider did is read back.
            self._enqueue(eta=check_at)
        else:
            # Still waiting at the provider past its time: read again after
            # the retry delays, then the owner is told.
            self._retry_later(
                self._owner_env()._(
                    "%(provider)s still shows the campaign as %(status)s after "
                    "its send time: look at it in %(provider)s.",
                    provider=self.connection_id._provider_name(),
                    status=current.provider_status or "?",
                )
            )

    def _not_its_own(self, current):
        """Whether the campaign read at the provider for a newsletter just
        created is not the one made with its key (a creation's answer gave
        another one's id). Once scheduled, it was checked: a volunteer may
        have renamed it since."""
        return self.state == "created" and not campaigns.has_key(
            current.name, self._key()
        )

    def _send_time_passed(self):
        moment = self.scheduled_at or self.send_at
        return moment + STATUS_CHECK_AFTER <= fields.Datetime.now()

    def _record(self, current):
        """The provider's view of the campaign, in the record."""
        states = {
            campaigns.SCHEDULED: "scheduled",
            campaigns.SENDING: "sent",
            campaigns.SENT: "sent",
        }
        values = {
            "provider_status": current.provider_status,
            "scheduled_at": current.scheduled_at,
            "report_url": current.report_url or False,
            "last_error": False,
        }
        if current.status in states:
            values["state"] = states[current.status]
        elif current.status == campaigns.SUSPENDED:
            values.update(
                state="cancelled",
                cancel_reason=self._owner_env()._(
                    "Suspended in %(provider)s.",
                    provider=self.connection_id._provider_name(),
                ),
            )
        self.write(values)
        if current.status not in states and current.status != campaigns.SUSPENDED:
            self._fail(
                self._owner_env()._(
                    "%(provider)s shows the campaign as %(status)s.",
                    provider=self.connection_id._provider_name(),
                    status=current.provider_status or "?",
                )
            )

    # ------------------------------------------------------------------
    # Cancel
    # ------------------------------------------------------------------

    def action_cancel_send(self):
        """Cancel this send (its owner or an administrator), while the
        newsletter is not sent."""
        self.check_access("read")
        for campaign in self.sudo():
            if campaign.state not in ACTIVE_STATES:
                raise UserError(
                    self.env._("This newsletter is not waiting to be sent any more.")
                )
            try:
                campaign._lock()
            except RetryableJobError:
                raise UserError(
                    self.env._(
                        "This newsletter is being prepared right now: try again in "
                        "a minute."
                    )
                ) from None
            reason = self.env._("Cancelled by %(user)s.", user=self.env.user.name)
            try:
                campaign._cancel(reason)
            except provider.ProviderError as exc:
                raise UserError(campaign.connection_id._error_text(exc)) from None
        return True

    def _cancel(self, reason):
        """Cancel at the provider what is scheduled there (a campaign made
        by an earlier try whose answer was lost included); a campaign sent
        already is recorded as sent."""
        connection = self.connection_id
        if self.state == "pending" and connection.state == "disconnected":
            self.write({"state": "cancelled", "cancel_reason": reason})
            return
        with connection._connected_client() as client:
            campaign_id = self.provider_campaign_id
            current = None
            if campaign_id and self.state == "created":
                current = client.campaign(campaign_id)
                if self._not_its_own(current):
                    # Never unscheduled: this newsletter's own is looked
                    # for by its key.
                    campaign_id = current = None
            if not campaign_id:
                since = self.create_date - LOOKUP_WINDOW
                found = client.find_campaign(self._key(), connection.list_id, since)
                campaign_id = found and found.id
            if campaign_id:
                current = current or client.campaign(campaign_id)
                if current.status in (campaigns.SENDING, campaigns.SENT):
                    self.write({"provider_campaign_id": campaign_id})
                    self._record(current)
                    return
                if current.status == campaigns.SCHEDULED:
                    client.cancel_campaign(campaign_id)
                    current = client.campaign(campaign_id)
                    if current.status == campaigns.SCHEDULED:
                        # Answered as done (a 200 with an error body, say)
                        # but not done: it would be sent, never shown
                        # cancelled.
                        raise provider.ProviderError(
                            client.provider,
                            self._owner_env()._(
                                "the campaign is still scheduled after its cancellation"
                            ),
                        )
                self.write(
                    {
                        "provider_campaign_id": campaign_id,
                        "provider_status": current.provider_status,
                        "report_url": current.report_url or False,
                    }
                )
        self.write({"state": "cancelled", "cancel_reason": reason, "last_error": False})

    def _cancel_at_disconnect(self):
        """The connection's newsletters not sent yet, before its key is
        forgotten: cancelled at the provider when they are there (else a
        scheduled one would still go out, with no key left to cancel it),
        here otherwise. The provider never stops the disconnection: one it
        refuses, or all once it cannot be reached, end failed with what to
        do, and their jobs end without calling it."""
        unreachable = None
        for campaign in self.sudo():
            campaign._lock(wait=True)  # a step under way ends first
            if campaign.state not in ACTIVE_STATES:
                continue
            env = campaign._owner_env()
            error = unreachable
            if error is None:
                try:
                    campaign._cancel(env._("The connection was disconnected."))
                    continue
                except provider.ProviderError as exc:
                    error = exc.message
                    if isinstance(
                        exc,
                        provider.Unreachable | provider.RateLimited | provider.WrongKey,
                    ):
                        unreachable = error  # no other call would do better
                except UserError as exc:  # no key left to call it with
                    error = unreachable = str(exc.args[0])
            provider_name = campaign.connection_id.with_context(
                lang=campaign._owner_lang()
            )._provider_name()
            message = env._(
                "The connection was disconnected, but %(provider)s could "
                "not be asked to cancel this newsletter (%(error)s): if it "
                "is scheduled in %(provider)s, cancel it there by hand.",
                provider=provider_name,
                error=error,
            )[:500]
            campaign.write({"state": "failed", "last_error": message})
            # By email too: a removed connection or a deleted owner takes
            # this row with it.
            campaign.connection_id._notify_owner(
                env._(
                    "Newsletter to cancel by hand: %(cycle)s",
                    cycle=campaign.sale_cycle_id.name,
                ),
                message,
            )

    # ------------------------------------------------------------------
    # Provider errors
    # ------------------------------------------------------------------

    def _provider_errors(self):
        return _ProviderErrors(self)

    def _retry_later(self, message):
        """A provider that did not answer, or failed: tried again later by
        a new job (this one ends, its writes kept), up to RETRY_DELAYS."""
        attempt = self.attempt_count
        if attempt >= len(RETRY_DELAYS):
            self._fail(message)
            return
        self.write({"attempt_count": attempt + 1, "last_error": message[:500]})
        self._enqueue(eta=RETRY_DELAYS[attempt])

    def _fail(self, message):
        """Give up, and tell the owner (by email, like failing endpoints):
        a newsletter not sent is something a volunteer must hear of."""
        self.write({"state": "failed", "last_error": message[:500]})
        _logger.info("newsletter campaign %s failed: %s", self.id, message)
        env = self._owner_env()
        self.connection_id._notify_owner(
            env._("Newsletter not sent: %(cycle)s", cycle=self.sale_cycle_id.name),
            env._(
                "The newsletter of %(cycle)s (%(event)s) through %(provider)s "
                "(%(account)s) could not be made: %(error)s See Preferences › "
                "Developer settings › Newsletter tools.",
                cycle=self.sale_cycle_id.name,
                event=self._event_label(),
                provider=self.connection_id._provider_name(),
                account=self.connection_id.account_name,
                error=message,
            ),
        )

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _owner_lang(self):
        return self.connection_id._owner_lang()

    def _owner_env(self):
        return self.with_context(lang=self._owner_lang()).env

    def _event_label(self):
        env = self._owner_env()
        labels = dict(self._fields["event_type"]._description_selection(env))
        return labels[self.event_type]


class _ProviderErrors:
    """Around a step's provider calls: rate limits wait (the job again
    later, no try used), unknown outcomes and provider failures are tried
    again later, refusals (4xx) fail the campaign with the provider's
    message."""

    def __init__(self, campaign):
        self.campaign = campaign

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        campaign = self.campaign
        if exc is None:
            return False
        if isinstance(exc, provider.RateLimited):
            raise RetryableJobError(
                exc.message, seconds=int(exc.reset) + 1, ignore_retry=True
            ) from None
        if isinstance(exc, provider.ProviderError):
            message = campaign.connection_id.with_context(
                lang=campaign._owner_lang()
            )._error_text(exc)
            # Only a 4xx is a refusal; after any other answer (a 5xx, a
            # redirect) what the provider did is not known: tried again,
            # the campaign looked up by its key first.
            refused = 400 <= (exc.status or 0) < 500
            transient = isinstance(exc, provider.Unreachable | provider.MalformedAnswer)
            if transient or not refused:
                campaign._retry_later(message)
            else:
                campaign._fail(message)
            return True
        if isinstance(exc, UserError):  # no key any more
            campaign._fail(str(exc.args[0]))
            return True
        return False


def _campaign_identity(job_):
    text = f"coop.newsletter.campaign,{job_.recordset.id},_campaign_job"
    return hashlib.sha1(text.encode()).hexdigest()
