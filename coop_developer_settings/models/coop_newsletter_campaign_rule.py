# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""*Send a newsletter*: a connection's setting for one sale cycle event."""

from datetime import timedelta

from odoo import fields, models

from ..newsletter import campaign as campaigns
from ..webhook.schemas import MAX_LEAD_TIME_HOURS

# The sale cycle events a newsletter can follow, in the order of a cycle.
CAMPAIGN_EVENT_TYPES = [
    ("sale_cycle.opening_soon", "The sale cycle opens soon"),
    ("sale_cycle.opened", "The sale cycle opened"),
    ("sale_cycle.closing_soon", "The sale cycle closes soon"),
    ("sale_cycle.closed", "The sale cycle closed"),
]
DEFAULT_DELAY_MINUTES = 30
MAX_DELAY_MINUTES = 7 * 24 * 60
DEFAULT_LEAD_TIME_HOURS = 24
# *Send a test to me* at most once in this time per event: a loop (or a
# second click) spends neither the provider's daily test quota nor its
# hourly requests, which the newsletters need.
TEST_SEND_INTERVAL = timedelta(minutes=1)


class CoopNewsletterCampaignRule(models.Model):
    """When this event happens for a cycle of the connection's shop, a
    campaign with this template goes to the connection's list, delay
    minutes later. Changed only through the connection's
    action_set_newsletter / action_stop_newsletter (their checks first)."""

    _name = "coop.newsletter.campaign.rule"
    _description = "Newsletter sent at a sale cycle event"
    _order = "connection_id, id"

    connection_id = fields.Many2one(
        "coop.newsletter.connection",
        string="Connection",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    event_type = fields.Selection(
        CAMPAIGN_EVENT_TYPES, string="Event", required=True, readonly=True
    )
    active = fields.Boolean(
        string="Send a newsletter",
        default=True,
        readonly=True,
    )
    template_id = fields.Char(string="Template id", required=True, readonly=True)
    template_name = fields.Char(string="Template", readonly=True)
    sender_id = fields.Char(string="Sender id", readonly=True)
    sender_name = fields.Char(string="Sender", readonly=True)
    subject = fields.Char(
        readonly=True,
        help="Empty: the template's subject (Brevo), or the cycle's name "
        "(Mailchimp, unless the audience has a default subject).",
    )
    delay_minutes = fields.Integer(
        string="Delay (minutes)",
        default=DEFAULT_DELAY_MINUTES,
        required=True,
        readonly=True,
        help="How long after the event the newsletter is sent (0: at once).",
    )
    lead_time_hours = fields.Integer(
        string="Hours before",
        default=DEFAULT_LEAD_TIME_HOURS,
        required=True,
        readonly=True,
        help="For 'opens soon' and 'closes soon': how long before the "
        "opening or closing the event happens.",
    )
    test_sent_at = fields.Datetime(string="Last test sent", readonly=True, copy=False)

    _sql_constraints = [
        (
            "one_per_event",
            "UNIQUE(connection_id, event_type)",
            "A connection has one newsletter setting per event.",
        ),
        (
            "delay_range",
            f"CHECK(delay_minutes >= 0 AND delay_minutes <= {MAX_DELAY_MINUTES})",
            "The delay is between 0 minutes and 7 days.",
        ),
        (
            "lead_time_range",
            f"CHECK(lead_time_hours >= 1 AND lead_time_hours <= {MAX_LEAD_TIME_HOURS})",
            "The hours before the event are between 1 and the reminders' maximum.",
        ),
    ]

    def _template_label(self):
        """The template's name as the tab shows it (a campaign to copy says so)."""
        if campaigns.is_copy(self.template_id):
            return self.env._("Copy of “%(name)s”", name=self.template_name)
        return self.template_name
