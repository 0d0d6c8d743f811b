# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A connection's newsletters at the sale cycle events: the settings (one
per event), the provider's templates and senders to choose from, and the
test send."""

import math
import secrets
from datetime import timedelta

from odoo import fields, models
from odoo.exceptions import UserError, ValidationError

from ..newsletter import campaign as campaigns
from ..newsletter import provider
from ..webhook.schemas import MAX_LEAD_TIME_HOURS
from .coop_newsletter_campaign import ACTIVE_STATES
from .coop_newsletter_campaign_rule import (
    CAMPAIGN_EVENT_TYPES,
    DEFAULT_DELAY_MINUTES,
    DEFAULT_LEAD_TIME_HOURS,
    MAX_DELAY_MINUTES,
    TEST_SEND_INTERVAL,
)
from .coop_sale_cycle_webhook import LEAD_TIME_EVENTS

# Providers whose campaigns need a sender chosen among the account's.
SENDER_REQUIRED = ("brevo",)
# Providers whose newsletter can be a copy of one of the list's campaigns.
COPIES_CAMPAIGNS = ("mailchimp",)
# The newsletters the tab lists, latest first.
OVERVIEW_CAMPAIGNS = 50


class CoopNewsletterConnection(models.Model):
    _inherit = "coop.newsletter.connection"

    campaign_rule_ids = fields.One2many(
        "coop.newsletter.campaign.rule",
        "connection_id",
        string="Newsletters at the sale cycle events",
        readonly=True,
    )
    campaign_ids = fields.One2many(
        "coop.newsletter.campaign", "connection_id", string="Newsletters", readonly=True
    )

    def coop_campaign_overview(self):
        """What the tab shows of the connection's newsletters: the setting
        of each event, and the latest newsletters made (owner and
        administrators only, by the connection's record rules)."""
        self.ensure_one()
        self.check_access("read")
        connection = self.sudo()
        rules = {
            rule.event_type: rule
            for rule in connection.with_context(active_test=False).campaign_rule_ids
        }
        labels = dict(
            self.env["coop.newsletter.campaign.rule"]
            ._fields["event_type"]
            ._description_selection(self.env)
        )
        states = dict(
            self.env["coop.newsletter.campaign"]
            ._fields["state"]
            ._description_selection(self.env)
        )
        to_string = fields.Datetime.to_string
        events = []
        for event_type, _label in CAMPAIGN_EVENT_TYPES:
            rule = rules.get(event_type)
            events.append(
                {
                    "event_type": event_type,
                    "label": labels[event_type],
                    "reminder": event_type in LEAD_TIME_EVENTS,
                    "active": bool(rule and rule.active),
                    "template_id": rule.template_id if rule else False,
                    "template_name": rule._template_label() if rule else False,
                    "sender_id": rule.sender_id if rule else False,
                    "sender_name": rule.sender_name if rule else False,
                    "subject": rule.subject if rule else False,
                    "delay_minutes": rule.delay_minutes
                    if rule
                    else DEFAULT_DELAY_MINUTES,
                    "lead_time_hours": rule.lead_time_hours
                    if rule
                    else DEFAULT_LEAD_TIME_HOURS,
                }
            )
        made = connection.campaign_ids[:OVERVIEW_CAMPAIGNS]
        return {
            "provider": connection.provider,
            "needs_sender": connection.provider in SENDER_REQUIRED,
            "can_send": connection.state != "disconnected" and bool(connection.list_id),
            "events": events,
            "campaigns": [
                {
                    "id": campaign.id,
                    "cycle": campaign.sale_cycle_id.name,
                    "event": labels[campaign.event_type],
                    "send_at": to_string(campaign.send_at),
                    "scheduled_at": campaign.scheduled_at
                    and to_string(campaign.scheduled_at),
                    "state": campaign.state,
                    "state_label": states[campaign.state],
                    "provider_status": campaign.provider_status or False,
                    "report_url": campaign.report_url or False,
                    "reason": campaign.cancel_reason or False,
                    "error": campaign.last_error or False,
                    "can_cancel": campaign.state in ACTIVE_STATES,
                }
                for campaign in made
            ],
        }

    def write(self, vals):
        result = super().write(vals)
        if "company_id" in vals:
            # Those of the former shop's cycles are cancelled by their job
            # now (at the provider for those scheduled there).
            self.sudo().campaign_ids.filtered(
                lambda campaign: campaign.state in ACTIVE_STATES
            )._enqueue(identity=False)
        return result

    def action_set_list(self, list_id):
        self.ensure_one()
        self.check_access("write")
        events = self.sudo().campaign_rule_ids.mapped("event_type")
        self._check_no_twin_newsletter(str(list_id), events)
        return super().action_set_list(list_id)

    def _check_no_twin_newsletter(self, list_id, event_types):
        """Refuse a newsletter at one of these events to that list when
        another connection of the shop, to the same list of the same
        account, sends one at it: each buyer would get both."""
        twin = (
            self.env["coop.newsletter.campaign.rule"]
            .sudo()
            .search(
                [
                    ("event_type", "in", list(event_types)),
                    ("connection_id", "!=", self.id),
                    ("connection_id.company_id", "=", self.company_id.id),
                    ("connection_id.provider", "=", self.provider),
                    *self._same_account_domain(),
                    ("connection_id.list_id", "=", list_id),
                    ("connection_id.state", "!=", "disconnected"),
                ],
                limit=1,
            )
        )
        if not twin:
            return
        labels = dict(twin._fields["event_type"]._description_selection(self.env))
        event = labels[twin.event_type]
        if not twin.connection_id.with_env(self.env).has_access("read"):
            # Another volunteer's, which the record rules hide from them:
            # neither its owner nor its account are named.
            raise ValidationError(
                self.env._(
                    "Another connection of the shop to this list of the account "
                    "already sends a newsletter at “%(event)s”: each buyer would "
                    "get two. Choose another event, or ask an administrator to "
                    "stop one of them.",
                    event=event,
                )
            )
        raise ValidationError(
            self.env._(
                "The connection of %(owner)s (%(account)s) already sends a "
                "newsletter to this list at “%(event)s”: each buyer would get "
                "two. Stop one of them first.",
                owner=twin.connection_id.user_id.name,
                account=twin.connection_id.account_name,
                event=event,
            )
        )

    def _same_account_domain(self):
        """The rules of the connections to this connection's account, by
        the provider's identity of it: two accounts may share a name (and,
        at Brevo, list ids), and an account renamed keeps it. A connection
        made before the identity was recorded (only the key would tell it,
        and it is checked at connect only) is taken for the same account as
        any of that name: a refused newsletter can be sent once the
        connection is made again, a newsletter sent twice cannot be undone."""
        same_name = ("connection_id.account_name", "=", self.account_name)
        if not self.account_id:
            return [same_name]
        return [
            "|",
            ("connection_id.account_id", "=", self.account_id),
            "&",
            ("connection_id.account_id", "=", False),
            same_name,
        ]

    def _disconnect(self, reason):
        """Whatever disconnects (the button, the owner's access removed,
        archived or deleted): the newsletters not sent yet are cancelled
        first, while the key is there to cancel them at the provider."""
        for connection in self.sudo():
            if connection.state != "disconnected":
                connection.campaign_ids.filtered(
                    lambda campaign: campaign.state in ACTIVE_STATES
                )._cancel_at_disconnect()
        return super()._disconnect(reason)

    def _provider_call(self, method, *args):
        """A provider call of the user's buttons: its error as a message."""
        self.ensure_one()
        self.check_access("read")
        self._check_connected()
        try:
            with self.sudo()._connected_client() as client:
                return getattr(client, method)(*args)
        except provider.ProviderError as exc:
            raise UserError(self._error_text(exc)) from None

    def coop_templates(self):
        """The provider's templates to choose from, and at Mailchimp the
        list's recent campaigns to copy: [{id, name, copy}]."""
        found = self._provider_call("templates")
        if self.provider in COPIES_CAMPAIGNS and self.list_id:
            found += self._provider_call("campaigns_to_copy", self.list_id)
        return [
            {"id": item.id, "name": item.name, "copy": campaigns.is_copy(item.id)}
            for item in found
        ]

    def coop_senders(self):
        """The account's senders (Brevo; none to choose at Mailchimp, whose
        audience has its own): [{id, name, email}]."""
        return [
            {"id": item.id, "name": item.name, "email": item.email}
            for item in self._provider_call("senders")
        ]

    def _check_event_type(self, event_type):
        events = dict(CAMPAIGN_EVENT_TYPES)
        # A list or an object would make the look-up itself fail.
        if not isinstance(event_type, str) or event_type not in events:
            raise ValidationError(
                self.env._("Choose one of the sale cycle events for the newsletter.")
            )

    def action_set_newsletter(
        self,
        event_type,
        template_id,
        sender_id=None,
        subject=None,
        delay_minutes=DEFAULT_DELAY_MINUTES,
        lead_time_hours=DEFAULT_LEAD_TIME_HOURS,
    ):
        """Send a newsletter at that event: the template (one of
        coop_templates()), the sender (one of coop_senders(), when the
        provider needs one), the delay after the event."""
        self.ensure_one()
        self.check_access("write")
        self._check_connected()
        self._check_event_type(event_type)
        if not self.list_id:
            raise UserError(self.env._("Choose the list to sync into first."))
        if (
            not isinstance(delay_minutes, int)
            or isinstance(delay_minutes, bool)
            or not 0 <= delay_minutes <= MAX_DELAY_MINUTES
        ):
            raise ValidationError(
                self.env._("The delay is a number of minutes, from 0 to 7 days.")
            )
        if (
            not isinstance(lead_time_hours, int)
            or isinstance(lead_time_hours, bool)
            or not 1 <= lead_time_hours <= MAX_LEAD_TIME_HOURS
        ):
            raise ValidationError(
                self.env._(
                    "The hours before the opening or closing are a number from 1 "
                    "to %(max)s.",
                    max=MAX_LEAD_TIME_HOURS,
                )
            )
        if event_type in LEAD_TIME_EVENTS and delay_minutes >= lead_time_hours * 60:
            # Sent after what it announces: the cycle's move would cancel
            # every one of them.
            raise ValidationError(
                self.env._(
                    "With this delay the newsletter would leave after the opening "
                    "or closing it announces: make the delay shorter than the "
                    "hours before."
                )
            )
        if subject is not None and not isinstance(subject, str):
            raise ValidationError(self.env._("The subject is a text."))
        templates = {item["id"]: item for item in self.coop_templates()}
        template = templates.get(str(template_id))
        if not template:
            raise ValidationError(
                self.env._(
                    "This template is not one of the account's templates, nor one "
                    "of the list's campaigns to copy."
                )
                if self.provider in COPIES_CAMPAIGNS
                else self.env._("This template is not one of the account's templates.")
            )
        self._check_no_twin_newsletter(self.list_id, [event_type])
        sender = None
        if self.provider in SENDER_REQUIRED:
            senders = {item["id"]: item for item in self.coop_senders()}
            sender = senders.get(str(sender_id))
            if not sender:
                raise ValidationError(
                    self.env._("Choose the sender among the account's senders.")
                )
        values = {
            "active": True,
            "template_id": template["id"],
            "template_name": template["name"],
            "sender_id": sender and sender["id"],
            "sender_name": sender and f"{sender['name']} <{sender['email']}>",
            "subject": (subject or "").strip()[:200] or False,
            "delay_minutes": delay_minutes,
            "lead_time_hours": lead_time_hours,
        }
        rule = self._campaign_rule(event_type)
        if rule:
            rule.write(values)
        else:
            rule = (
                self.env["coop.newsletter.campaign.rule"]
                .sudo()
                .create({**values, "connection_id": self.id, "event_type": event_type})
            )
        return rule.id

    def action_stop_newsletter(self, event_type):
        """No newsletter at that event any more (those made are kept)."""
        self.ensure_one()
        self.check_access("write")
        self._check_event_type(event_type)
        self._campaign_rule(event_type).write({"active": False})
        return True

    def _campaign_rule(self, event_type):
        return (
            self.env["coop.newsletter.campaign.rule"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [("connection_id", "=", self.id), ("event_type", "=", event_type)],
                limit=1,
            )
        )

    def action_send_newsletter_test(self, event_type):
        """Send a test of that event's newsletter to the user's own address
        (the provider's test send), with the shop's next cycle, else a
        sample one. The campaign made for it is deleted afterwards."""
        self.ensure_one()
        self.check_access("read")
        self._check_connected()
        self._check_event_type(event_type)
        rule = self._campaign_rule(event_type)
        if not rule.active:
            raise UserError(self.env._("Set up the newsletter of this event first."))
        now = fields.Datetime.now()
        if rule.test_sent_at and now < rule.test_sent_at + TEST_SEND_INTERVAL:
            raise UserError(
                self.env._(
                    "A test of this newsletter was sent less than a minute ago: "
                    "look in your inbox, or try again in %(seconds)s seconds.",
                    seconds=math.ceil(
                        (rule.test_sent_at + TEST_SEND_INTERVAL - now).total_seconds()
                    ),
                )
            )
        # Before the provider's calls: a second click at once waits for this
        # transaction, then is refused; a test that fails leaves no trace.
        rule.write({"test_sent_at": now})
        address = self.env.user.email_normalized
        if not address:
            raise UserError(
                self.env._("Your user has no email address to send the test to.")
            )
        cycle = self._test_cycle()
        draft = campaigns.Draft(
            key=f"coop-test-{secrets.token_hex(6)}",
            name=self.env._("Test: %(cycle)s", cycle=cycle.name),
            list_id=self.list_id,
            template_id=rule.template_id,
            sender_id=rule.sender_id or "",
            subject=self._newsletter_subject(rule.subject, cycle),
            parameters=cycle._newsletter_parameters(),
        )
        try:
            with self.sudo()._connected_client() as client:
                campaign_id = client.create_campaign(draft)
                try:
                    client.set_content(campaign_id, draft)
                    client.send_test(campaign_id, [address])
                finally:
                    client.delete_campaign(campaign_id)
        except provider.ProviderError as exc:
            raise UserError(self._error_text(exc)) from None
        return address

    def _newsletter_subject(self, subject, cycle):
        """The setting's subject; without one, Brevo's is the template's,
        Mailchimp's the cycle's name (it sends nothing without one), whose
        merge tags Mailchimp must not fill."""
        if subject or self.provider != "mailchimp":
            return subject or ""
        return campaigns.mailchimp_plain_text(cycle.name or "")

    def _test_cycle(self):
        """The shop's next cycle (scheduled or open), else a sample."""
        Cycle = self.env["coop.sale.cycle"].sudo()
        cycle = Cycle.search(
            [
                ("company_id", "=", self.company_id.id),
                ("state", "in", ("scheduled", "open")),
            ],
            order="date_open",
            limit=1,
        )
        if cycle:
            return cycle
        now = fields.Datetime.now().replace(second=0, microsecond=0)
        return Cycle.new(
            {
                "name": self.env._("Sample sale cycle"),
                "company_id": self.company_id.id,
                "date_open": now + timedelta(days=1),
                "date_close": now + timedelta(days=3),
            }
        )
