"""The newsletter a connection sends at a sale cycle's event: what both
clients share about campaigns (no Odoo).

**Parameters** are a fixed set of names (``PARAMETERS``); the provider's
template holds the layout and shows them, nothing else is filled in, and
nothing a user typed is ever evaluated, here or at the provider:

- Brevo: ``params`` of the campaign, read in the template as
  ``{{ params.COOP_CYCLE_NAME }}``. Plain text: Brevo's template language
  escapes every variable for HTML itself (escaping here would show
  ``&amp;``), and never evaluates a variable's value.
- Mailchimp: the template's editable sections (``mc:edit="coop_cycle_name"``),
  which hold HTML: each value is escaped for HTML, and its merge-tag
  delimiters (``*|``, ``|*``) are broken, so that a cycle named
  ``*|EMAIL|*`` is not replaced by Mailchimp with each buyer's address.
  The cycle's name as a Mailchimp subject (when the setting has none) has
  its delimiters broken the same way (mailchimp_plain_text).
  A campaign to copy (``COPY_PREFIX`` and its id instead of a template):
  in the copy's HTML, each parameter's merge tag (``*|COOP_CYCLE_NAME|*``)
  is replaced by the same escaped value; nothing else in it changes.

**Exactly once**: a campaign carries a deterministic key (in its name, and
its tag at Brevo); after any outcome the addon does not know (a timeout, a
crash), it looks the key up at the provider before creating anything.
"""

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# name: what it holds (the README's table repeats it).
PARAMETERS = {
    "COOP_CYCLE_NAME": "the sale cycle's name",
    "COOP_OPENS_AT": "when it opens, in the shop's timezone and language",
    "COOP_CLOSES_AT": "when it closes, in the shop's timezone and language",
    "COOP_SHOP_NAME": "the shop's name",
    "COOP_SHOP_URL": "the cycle's shop URL (else the shop's website)",
    "COOP_CYCLE_DESCRIPTION": "the cycle's description, as text",
}
MAX_PARAMETER_LENGTH = 5000  # characters of a value (a long description)
MAX_NAME_LENGTH = 100  # characters of a campaign's name (title at Mailchimp)
# A rule's template id that names a campaign to copy (Mailchimp), not a
# template: the prefix, then the campaign's id.
COPY_PREFIX = "campaign:"
# The parameters' merge tags in a copied campaign's HTML.
PARAMETER_TAG = re.compile(r"\*\|(" + "|".join(PARAMETERS) + r")\|\*")
# The end of the name of a campaign the addon made (its key, a test's too).
KEYED_NAME = re.compile(r"\[coop-[0-9A-Za-z-]+\]$")

# A campaign's progress at the provider, whatever its own words for it.
DRAFT = "draft"
SCHEDULED = "scheduled"
SENDING = "sending"
SENT = "sent"
SUSPENDED = "suspended"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Template:
    id: str
    name: str


@dataclass(frozen=True)
class Sender:
    id: str
    name: str
    email: str


@dataclass(frozen=True)
class Draft:
    """A campaign to create: ``key`` is its deterministic idempotency key
    (letters, digits, hyphens), ``parameters`` a dict of PARAMETERS."""

    key: str
    name: str
    list_id: str
    template_id: str
    parameters: dict
    subject: str = ""
    sender_id: str = ""
    scheduled_at: datetime | None = None  # naive UTC; None: a draft to send later
    # A copy (COPY_PREFIX): a copy of the campaign made since then (naive
    # UTC) without the key is one an earlier try made, its answer lost; it
    # is taken instead of a second copy. None: a new copy, never looked for.
    lost_copy_since: datetime | None = None

    def __post_init__(self):
        unknown = set(self.parameters) - set(PARAMETERS)
        if unknown:
            raise ValueError(f"unknown parameters: {sorted(unknown)}")
        if not self.key.replace("-", "").isalnum():
            raise ValueError(f"not a campaign key: {self.key!r}")

    @property
    def full_name(self):
        """The name shown at the provider, ending with the key."""
        suffix = f" [{self.key}]"
        return self.name[: MAX_NAME_LENGTH - len(suffix)].rstrip() + suffix


@dataclass(frozen=True)
class Campaign:
    """A campaign as the provider has it."""

    id: str
    name: str
    status: str  # one of DRAFT ... UNKNOWN
    provider_status: str = ""  # the provider's own word
    scheduled_at: datetime | None = None
    report_url: str = ""
    extra: dict = field(default_factory=dict, compare=False)


def https_url(value):
    """A link the provider gave, kept only if it is a plain https URL (it
    becomes a link in the tab)."""
    text = value if isinstance(value, str) else ""
    return text[:500] if text.startswith("https://") and " " not in text else ""


def has_key(name, key):
    return isinstance(name, str) and name.endswith(f"[{key}]")


def is_keyed(name):
    """Whether a campaign's name ends with a key the addon gives."""
    return isinstance(name, str) and bool(KEYED_NAME.search(name))


def is_copy(template_id):
    """Whether a rule's template id names a campaign to copy."""
    return isinstance(template_id, str) and template_id.startswith(COPY_PREFIX)


def text_value(value):
    """A parameter's value: text, one line breaks kept, bounded."""
    text = "" if value in (None, False) else str(value)
    return text.replace("\r\n", "\n")[:MAX_PARAMETER_LENGTH]


def brevo_params(parameters):
    """Brevo's params: plain text (Brevo escapes them where they go)."""
    return {name: text_value(parameters.get(name)) for name in PARAMETERS}


def mailchimp_plain_text(text):
    """Text Mailchimp sends as it is in a field where it fills merge tags
    (a subject line): an invisible zero-width space breaks each "*|" and
    "|*", so that a cycle named ``*|EMAIL|*`` reads the same to every buyer."""
    return text.replace("*|", "*\u200b|").replace("|*", "|\u200b*")


def mailchimp_sections(parameters):
    """Mailchimp's template sections: HTML-escaped text, merge tags broken,
    line breaks as <br>."""
    sections = {}
    for name in PARAMETERS:
        escaped = html.escape(text_value(parameters.get(name)), quote=True)
        # "*|" and "|*" open and close Mailchimp merge tags: the bar as an
        # entity reads the same and is never parsed as one.
        escaped = escaped.replace("|", "&#124;")
        sections[name.lower()] = escaped.replace("\n", "<br>")
    return sections


def mailchimp_html(page, parameters):
    """A copied campaign's HTML with each parameter's merge tag
    (``*|COOP_CYCLE_NAME|*``) replaced by its value escaped as in the
    sections (so a value never makes a merge tag); anything else in the
    page, other merge tags included, as it is."""
    sections = mailchimp_sections(parameters)
    return PARAMETER_TAG.sub(lambda match: sections[match.group(1).lower()], page)


def quarter_hour_ceil(moment):
    """The next quarter-hour at or after moment (Mailchimp schedules only
    on :00, :15, :30, :45)."""
    moment = moment.replace(second=0, microsecond=0) + (
        timedelta(minutes=1) if moment.second or moment.microsecond else timedelta()
    )
    extra = (-moment.minute) % 15
    return moment + timedelta(minutes=extra)


def utc_iso(moment):
    """A naive UTC datetime as the providers write it (…Z)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_utc(text):
    """A provider's ISO 8601 date-time as a naive UTC datetime, or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = (moment - moment.utcoffset()).replace(tzinfo=None)
    return moment
