"""Mailchimp Marketing API 3.0, the calls the buyer sync needs.

The key's suffix names the data centre (``…-us21`` is
``us21.api.mailchimp.com``), checked against a strict pattern before it
becomes a host name. Nobody who unsubscribed in Mailchimp is subscribed
again: new addresses are added by a batch that never touches existing
members (``update_existing: false``), and the existing ones are updated by
a request each with ``status_if_new`` only, which leaves their status as it
is.
Opt-outs are sent as ``unsubscribed`` (a batch that does update existing
members), removals archive the member. The one-address requests (updates,
archives) go on up to ``connections`` connections at once (4 by default),
under Mailchimp's 10 per account; from BATCH_FROM of them on, they go as
Mailchimp's batch operations instead (``POST /batches``, the same requests
in one call, followed on ``GET /batches/{id}``). A batch's answers per
operation are in an archive on another host, never read: a batch with any
errored operation is done again one request at a time (each request may be
repeated), which tells which member failed and why.
"""

import hashlib
import json
import re

from . import campaign as campaigns
from .provider import (
    MAX_PAGES,
    OPTED_OUT,
    REMOVED,
    SUBSCRIBED,
    ProviderAccount,
    ProviderClient,
    ProviderList,
    SyncResult,
    WrongKey,
    chunks,
    is_number_id,
)

DATA_CENTRE = re.compile(r"^us[0-9]{1,3}$")
BASE_URL = "https://{dc}.api.mailchimp.com/3.0"
MEMBER_BATCH = 500  # members per POST /lists/{id}, Mailchimp's documented maximum
LIST_PAGE = 1000  # Mailchimp's largest page
LIST_FIELDS = "lists.id,lists.name,lists.stats.member_count,total_items"
# Mailchimp's ids (lists, webhooks): letters and digits only.
MAILCHIMP_ID = re.compile(r"^[0-9A-Za-z]{1,32}$")
CONTACT_EXISTS = "ERROR_CONTACT_EXISTS"
# One-address requests of a call from which they go as batch operations: fewer
# cost less one by one (100 on 4 connections at 50 ms: 1.3 s) than a batch
# and its polls.
BATCH_FROM = 100
OPERATIONS_PER_BATCH = 5000  # the client's bound: a body of 2 MB or so
BATCH_DONE = "finished"  # after pending, preprocessing, started, finalizing
BATCH_FIELDS = "id,status,total_operations,finished_operations,errored_operations"
# Merge fields sent; the co-op's own ones must exist in the audience.
MERGE_FIELDS = {
    "first_name": "FNAME",
    "last_name": "LNAME",
    "phone": "PHONE",
    "shop": "SHOP",
    "first_order": "FIRSTORDER",
    "last_order": "LASTORDER",
    "order_count": "ORDERS",
    "last_cycle": "LASTCYCLE",
}
# What a merge field the sync writes is, when the audience lacks it (its
# display name, unless the caller names it, and its type; every audience
# starts with FNAME, LNAME, ADDRESS and PHONE, which the co-op may have
# deleted).
MERGE_FIELD_KINDS = {
    "first_name": ("First Name", "text"),
    "last_name": ("Last Name", "text"),
    "phone": ("Phone Number", "phone"),
    "shop": ("Shop", "text"),
    "first_order": ("First order", "date"),
    "last_order": ("Last order", "date"),
    "order_count": ("Orders", "number"),
    "last_cycle": ("Last sale cycle", "text"),
}
# The options of a type: E.164 numbers are international ones, dates are
# sent as ISO dates.
MERGE_FIELD_OPTIONS = {
    "phone": {"phone_format": "International"},
    "date": {"date_format": "YYYY-MM-DD"},
}
MERGE_FIELD_PAGE = 1000  # an audience has at most 80 merge fields
ERRORS_SHOWN = 3  # field errors quoted in a message
TEMPLATE_FIELDS = "templates.id,templates.name,total_items"
CAMPAIGN_FIELDS = (
    "id,web_id,status,send_time,settings.title,settings.subject_line,recipients.list_id"
)
# What the look-up of a copy whose answer was lost reads of a campaign.
COPY_FIELDS = CAMPAIGN_FIELDS + ",create_time,settings.from_name,settings.reply_to"
CAMPAIGN_PAGE = 1000  # Mailchimp's largest page
RECENT_CAMPAIGNS = 50  # campaigns to copy listed, of each status (sent, saved)
# Mailchimp's campaign statuses, in the clients' common words.
CAMPAIGN_STATUSES = {
    "save": campaigns.DRAFT,
    "paused": campaigns.SUSPENDED,
    "schedule": campaigns.SCHEDULED,
    "sending": campaigns.SENDING,
    "sent": campaigns.SENT,
    "canceling": campaigns.SUSPENDED,
    "canceled": campaigns.SUSPENDED,
}
# Where the account's users see a campaign (Mailchimp's documented web_id link).
CAMPAIGN_PAGE_URL = "https://{dc}.admin.mailchimp.com/campaigns/show/?id={web_id}"


def subscriber_hash(address):
    """Mailchimp's member id: the MD5 of the lower-case address."""
    return hashlib.md5(address.lower().encode("utf-8")).hexdigest()


def merge_fields(contact):
    values = {}
    for name, tag in MERGE_FIELDS.items():
        value = getattr(contact, name)
        if value in (None, ""):
            continue
        values[tag] = value.isoformat() if hasattr(value, "isoformat") else value
    return values


def _is_id(value):
    """Whether an id Mailchimp gave is one: nothing else is kept, to reach
    a path later."""
    return isinstance(value, str) and bool(MAILCHIMP_ID.fullmatch(value))


def _id(value):
    text = str(value)
    if not MAILCHIMP_ID.fullmatch(text):
        raise ValueError(f"not a Mailchimp id: {text[:40]!r}")
    return text


class MailchimpClient(ProviderClient):
    provider = "Mailchimp"
    max_connections = 10  # Mailchimp's concurrent connections per account

    def __init__(self, key, *, connections=4, **options):
        key = (key or "").strip()
        data_centre = key.rsplit("-", 1)[-1] if "-" in key else ""
        if not DATA_CENTRE.match(data_centre):
            raise WrongKey(
                self.provider,
                "the key does not end with its data centre (like -us21)",
            )
        self.data_centre = data_centre
        super().__init__(key, connections=connections, **options)

    @classmethod
    def key_hint(cls, key):
        """The secret's last 4 characters with the data centre (``…a1b2-us21``):
        the suffix alone is the same for every key of a data centre."""
        secret, _dash, data_centre = key.rpartition("-")
        if not secret:
            return super().key_hint(key)
        return f"{super().key_hint(secret)}-{data_centre}"

    def _fixed_base_url(self):
        return BASE_URL.format(dc=self.data_centre)

    def _auth(self):
        return {}, ("coop", self._key)  # HTTP Basic, any user name

    def _error_message(self, data):
        message = data.get("detail") or data.get("title")
        if not isinstance(message, str):
            return None
        field_errors = data.get("errors")
        if isinstance(field_errors, list) and field_errors:
            details = [
                f"{item.get('field')}: {item.get('message')}"
                for item in field_errors[:ERRORS_SHOWN]
                if isinstance(item, dict)
            ]
            message = f"{message} ({'; '.join(details)})"
        return message

    def check_key(self):
        """The key's account: its account id (Mailchimp's identity of the
        account) and its name (ping first: Mailchimp's own key check)."""
        ping = self._call("GET", "/ping")
        self._expect(
            isinstance(ping, dict) and "health_status" in ping, "ping without status"
        )
        root = self._call("GET", "/", params={"fields": "account_id,account_name"})
        self._expect(isinstance(root, dict), "account is not an object")
        account_id = root.get("account_id")
        self._expect(
            isinstance(account_id, str) and account_id, "account without an id"
        )
        name = root.get("account_name")
        self._expect(isinstance(name, str) and name, "account without a name")
        return ProviderAccount(account_id, name)

    def lists(self):
        found = self._lists(
            "/lists", "count", LIST_PAGE, "total_items", {"fields": LIST_FIELDS}
        )
        self._expect(all(_is_id(item["id"]) for item in found), "a list id not an id")
        return [
            ProviderList(
                item["id"],
                str(item.get("name") or item["id"]),
                (item.get("stats") or {}).get("member_count"),
            )
            for item in found
        ]

    def ensure_fields(self, list_id, labels=None):
        """Create the merge fields the sync writes that the audience lacks
        (Mailchimp keeps no value of a tag it does not have), named by
        labels ({Contact attribute: name}) when given; returns the tags
        created. One that exists is left as the co-op set it, whatever its
        type."""
        list_id = _id(list_id)
        answer = self._call(
            "GET",
            f"/lists/{list_id}/merge-fields",
            params={"count": MERGE_FIELD_PAGE, "fields": "merge_fields.tag"},
        )
        existing = self._names(
            answer, "merge_fields", "tag", "merge fields without their tags"
        )
        created = []
        for name, tag in MERGE_FIELDS.items():
            if tag in existing:
                continue
            label, kind = MERGE_FIELD_KINDS[name]
            label = (labels or {}).get(name) or label
            self._call(
                "POST",
                f"/lists/{list_id}/merge-fields",
                body={
                    "tag": tag,
                    "name": label,
                    "type": kind,
                    "required": False,
                    "public": False,
                    "options": MERGE_FIELD_OPTIONS.get(kind, {}),
                },
            )
            created.append(tag)
        return created

    def upsert_contacts(self, list_id, contacts):
        """Bring the audience in line with contacts (one per address; an
        address taken off is none of theirs: the sync's rule); returns a
        SyncResult (``rejected``: the members Mailchimp refused in a batch
        answered 200) once Mailchimp did everything. Raises ProviderError;
        repeating the call is harmless."""
        list_id = _id(list_id)
        result = SyncResult()
        moved = [contact.previous_email for contact in contacts if contact.moved]
        removed = [c.email for c in contacts if c.state == REMOVED]
        # The addresses archived are none of those added or updated below
        # (the sync's rule): whichever Mailchimp does first does not matter.
        started = self._start(list_id, moved + removed, self._archive, _archive_request)
        result.moved, result.removed = len(moved), len(removed)
        opted_out = [c for c in contacts if c.state == OPTED_OUT]
        for part in chunks(opted_out, MEMBER_BATCH):
            answer = self._batch(list_id, part, "unsubscribed", update_existing=True)
            result.rejected.extend(_rejected(answer))
        result.opted_out = len(opted_out)
        subscribed = [c for c in contacts if c.state == SUBSCRIBED]
        members = []  # those already in the audience
        for part in chunks(subscribed, MEMBER_BATCH):
            answer = self._batch(list_id, part, "subscribed", update_existing=False)
            existing = {
                error["email_address"].lower()
                for error in answer["errors"]
                if error.get("error_code") == CONTACT_EXISTS
            }
            result.rejected.extend(_rejected(answer, skip=CONTACT_EXISTS))
            members += [contact for contact in part if contact.email in existing]
        started += self._start(list_id, members, self._update, _update_request)
        self._finish(list_id, started)
        result.subscribed = len(subscribed)
        return result

    def _start(self, list_id, items, direct, request):
        """direct(list_id, item) for each item, one request each on the
        client's connections; from BATCH_FROM items on, their requests
        (request(list_id, item): method, path, body) started as batch
        operations instead: returns those [(batch id, items, direct)]."""
        if len(items) < BATCH_FROM:
            self._each(lambda item: direct(list_id, item), items)
            return []
        started = []
        for part in chunks(items, OPERATIONS_PER_BATCH):
            operations = []
            for item in part:
                method, path, body = request(list_id, item)
                operation = {"method": method, "path": path}
                if body is not None:
                    operation["body"] = json.dumps(body)
                operations.append(operation)
            started.append((self._start_batch(operations), part, direct))
        return started

    def _finish(self, list_id, started):
        """Follows the batch operations started to their end; those of a
        batch with any errored operation are done again directly, which
        tells what failed and why (a batch's answers per operation are off
        Mailchimp's API host, never read)."""
        errored = []
        self._follow(
            [batch_id for batch_id, _items, _direct in started],
            lambda batch_id: self._batch_finished(batch_id, errored),
            "batch operation",
        )
        for batch_id, items, direct in started:
            if batch_id in errored:
                self._each(lambda item, direct=direct: direct(list_id, item), items)

    def _start_batch(self, operations):
        """Returns the id of the batch operation started."""
        answer = self._call("POST", "/batches", body={"operations": operations})
        self._expect(
            isinstance(answer, dict) and isinstance(answer.get("id"), str),
            "batch operation without an id",
        )
        return _id(answer["id"])

    def _batch_finished(self, batch_id, errored):
        """Whether the batch finished; if any of its operations failed (or
        was not done), its id is added to errored."""
        batch = self._call(
            "GET", f"/batches/{batch_id}", params={"fields": BATCH_FIELDS}
        )
        counts = ("total_operations", "finished_operations", "errored_operations")
        self._expect(
            isinstance(batch, dict)
            and isinstance(batch.get("status"), str)
            and all(isinstance(batch.get(count), int) for count in counts),
            "batch operation without its status and counts",
        )
        if batch["status"] != BATCH_DONE:
            return False
        if batch["errored_operations"] or (
            batch["finished_operations"] < batch["total_operations"]
        ):
            errored.append(batch_id)
        return True

    def _batch(self, list_id, contacts, status, *, update_existing):
        answer = self._call(
            "POST",
            f"/lists/{list_id}",
            body={
                "members": [
                    {
                        "email_address": contact.email,
                        "status": status,
                        "merge_fields": merge_fields(contact),
                    }
                    for contact in contacts
                ],
                "update_existing": update_existing,
            },
        )
        self._expect(
            isinstance(answer, dict)
            and isinstance(answer.get("errors"), list)
            and all(
                isinstance(error, dict) and isinstance(error.get("email_address"), str)
                for error in answer["errors"]
            ),
            "batch answer without its errors",
        )
        return answer

    def _update(self, list_id, contact):
        """An existing member's fields; its status is left as it is."""
        method, path, body = _update_request(list_id, contact)
        self._call(method, path, body=body)

    def _archive(self, list_id, address):
        # Not in the audience, or archived already (404): nothing to do.
        self._delete(_archive_request(list_id, address)[1])

    def register_webhook(self, list_id, url):
        """A list webhook for unsubscribes and cleaned addresses, from
        subscribers and the audience's admins (not from the API: our own
        opt-outs do not echo back); Mailchimp checks the URL with a GET
        first. Returns its id."""
        answer = self._call(
            "POST",
            f"/lists/{_id(list_id)}/webhooks",
            body={
                "url": url,
                "events": {"unsubscribe": True, "cleaned": True},
                "sources": {"user": True, "admin": True, "api": False},
            },
        )
        self._expect(
            isinstance(answer, dict) and _is_id(answer.get("id")), "webhook without id"
        )
        return str(answer["id"])

    def unregister_webhook(self, list_id, webhook_id):
        self._delete(f"/lists/{_id(list_id)}/webhooks/{_id(webhook_id)}")

    # ------------------------------------------------------------------
    # Campaigns (the newsletter at a sale cycle's event)
    # ------------------------------------------------------------------

    def templates(self):
        """The account's own templates (their editable sections receive
        the parameters)."""
        found = self._lists(
            "/templates",
            "count",
            LIST_PAGE,
            "total_items",
            {"type": "user", "fields": TEMPLATE_FIELDS},
            key="templates",
        )
        self._expect(
            all(is_number_id(item["id"]) for item in found),
            "a template id not a number",
        )
        return [
            campaigns.Template(str(item["id"]), str(item.get("name") or item["id"]))
            for item in found
        ]

    def senders(self):
        """None to choose: the audience's own sender (its campaign defaults)."""
        return []

    def campaigns_to_copy(self, list_id):
        """The audience's recent regular campaigns, sent or saved, that a
        newsletter can be a copy of (the addon's own left out), each as a
        Template whose id is COPY_PREFIX and the campaign's id."""
        found = []
        for status, order in (("sent", "send_time"), ("save", "create_time")):
            answer = self._call(
                "GET",
                "/campaigns",
                params={
                    "type": "regular",
                    "status": status,
                    "list_id": _id(list_id),
                    "sort_field": order,
                    "sort_dir": "DESC",
                    "fields": "campaigns.id,campaigns.settings.title,"
                    "campaigns.settings.subject_line",
                    "count": RECENT_CAMPAIGNS,
                },
            )
            found += self._campaign_items(answer)
        copies = []
        for item in found:
            if not _is_id(item.get("id")):
                continue  # never stored in a rule, nor put in a path later
            settings = item.get("settings") or {}
            name = str(settings.get("title") or settings.get("subject_line") or "")
            if not campaigns.is_keyed(name):
                copies.append(
                    campaigns.Template(
                        campaigns.COPY_PREFIX + item["id"], name or item["id"]
                    )
                )
        return copies

    def _campaign_items(self, answer):
        self._expect(isinstance(answer, dict), "campaigns is not an object")
        batch = answer.get("campaigns") or []
        self._expect(
            isinstance(batch, list) and all(isinstance(c, dict) for c in batch),
            "campaigns is not a list",
        )
        return batch

    def _campaigns_since(self, list_id, since, fields=CAMPAIGN_FIELDS, **filters):
        """The campaigns of the audience created since (naive UTC), page by
        page. The campaign list is read, not the search: the search's index
        may not hold a campaign just made."""
        for page in range(MAX_PAGES):
            answer = self._call(
                "GET",
                "/campaigns",
                params={
                    **filters,
                    "list_id": _id(list_id),
                    "since_create_time": campaigns.utc_iso(since),
                    "fields": ",".join(
                        f"campaigns.{name}" for name in fields.split(",")
                    )
                    + ",total_items",
                    "count": CAMPAIGN_PAGE,
                    "offset": page * CAMPAIGN_PAGE,
                },
            )
            batch = self._campaign_items(answer)
            yield from batch
            if len(batch) < CAMPAIGN_PAGE:
                return

    def find_campaign(self, key, list_id, since):
        """The campaign of the audience created since (naive UTC) whose
        title ends with the key, or None."""
        for item in self._campaigns_since(list_id, since):
            if campaigns.has_key((item.get("settings") or {}).get("title"), key):
                return self._campaign(item)
        return None

    def create_campaign(self, draft):
        """Create the campaign (a draft) with the audience's sender and its
        content: the template, the parameters in its sections; or a copy of
        the campaign to copy. Returns its id. Not to be repeated blindly:
        after an unknown outcome, find_campaign first."""
        list_id = _id(draft.list_id)
        if campaigns.is_copy(draft.template_id):
            return self._copy_campaign(draft, list_id)
        defaults = self._campaign_defaults(list_id)
        answer = self._call(
            "POST",
            "/campaigns",
            body={
                "type": "regular",
                "recipients": {"list_id": list_id},
                "settings": {
                    "title": draft.full_name,
                    "subject_line": draft.subject or defaults.get("subject") or "",
                    "from_name": defaults.get("from_name") or "",
                    "reply_to": defaults.get("from_email") or "",
                },
            },
        )
        self._expect(
            isinstance(answer, dict) and _is_id(answer.get("id")),
            "campaign without an id",
        )
        return answer["id"]

    def _campaign_defaults(self, list_id):
        audience = self._call(
            "GET", f"/lists/{list_id}", params={"fields": "campaign_defaults"}
        )
        defaults = (audience or {}).get("campaign_defaults") or {}
        self._expect(isinstance(defaults, dict), "audience without campaign defaults")
        return defaults

    def _copy_campaign(self, draft, list_id):
        """A copy of the campaign to copy (Mailchimp's replicate), or the
        copy an earlier try made whose answer was lost; then its title
        with the key, its subject, and the whole audience as recipients
        (the sender stays the copied campaign's, else the audience's)."""
        source_id = _copied_id(draft.template_id)
        copy = None
        if draft.lost_copy_since:
            copy = self._lost_copy(source_id, list_id, draft.lost_copy_since)
        if copy is None:
            copy = self._call("POST", f"/campaigns/{source_id}/actions/replicate")
            self._expect(
                isinstance(copy, dict) and _is_id(copy.get("id")),
                "copy without an id",
            )
        settings = copy.get("settings") or {}
        defaults = self._campaign_defaults(list_id)
        self._call(
            "PATCH",
            f"/campaigns/{_id(copy['id'])}",
            body={
                "recipients": {"list_id": list_id},
                "settings": {
                    "title": draft.full_name,
                    "subject_line": draft.subject
                    or settings.get("subject_line")
                    or defaults.get("subject")
                    or "",
                    "from_name": settings.get("from_name")
                    or defaults.get("from_name")
                    or "",
                    "reply_to": settings.get("reply_to")
                    or defaults.get("from_email")
                    or "",
                },
            },
        )
        return copy["id"]

    def _lost_copy(self, source_id, list_id, since):
        """The oldest draft of the audience made since then (naive UTC)
        without a key whose title is the copied campaign's as Mailchimp
        names a copy ("Title (copy 01)"), or None."""
        source = self._call(
            "GET", f"/campaigns/{source_id}", params={"fields": "settings.title"}
        )
        self._expect(isinstance(source, dict), "campaign is not an object")
        title = str((source.get("settings") or {}).get("title") or "")
        found = [
            item
            for item in self._campaigns_since(
                list_id, since, COPY_FIELDS, status="save"
            )
            if _is_id(item.get("id"))
            and item["id"] != source_id
            and _copy_title(title, (item.get("settings") or {}).get("title"))
        ]
        found.sort(key=lambda item: str(item.get("create_time") or ""))
        return found[0] if found else None

    def set_content(self, campaign_id, draft):
        """The template and the parameters in its sections; for a copy,
        its HTML with the parameters' merge tags replaced (repeatable: the
        tags are gone once replaced)."""
        campaign_id = _id(campaign_id)
        if campaigns.is_copy(draft.template_id):
            answer = self._call(
                "GET", f"/campaigns/{campaign_id}/content", params={"fields": "html"}
            )
            self._expect(
                isinstance(answer, dict) and isinstance(answer.get("html"), str),
                "content without its HTML",
            )
            body = {"html": campaigns.mailchimp_html(answer["html"], draft.parameters)}
        else:
            body = {
                "template": {
                    "id": int(_template_id(draft.template_id)),
                    "sections": campaigns.mailchimp_sections(draft.parameters),
                }
            }
        self._call("PUT", f"/campaigns/{campaign_id}/content", body=body)

    def campaign(self, campaign_id):
        answer = self._call(
            "GET", f"/campaigns/{_id(campaign_id)}", params={"fields": CAMPAIGN_FIELDS}
        )
        self._expect(isinstance(answer, dict) and "id" in answer, "campaign without id")
        return self._campaign(answer)

    def _campaign(self, item):
        self._expect(_is_id(item.get("id")), "a campaign id not an id")
        status = str(item.get("status") or "")
        web_id = item.get("web_id")
        return campaigns.Campaign(
            id=str(item.get("id")),
            name=str((item.get("settings") or {}).get("title") or ""),
            status=CAMPAIGN_STATUSES.get(status, campaigns.UNKNOWN),
            provider_status=status[:40],
            scheduled_at=campaigns.parse_utc(item.get("send_time")),
            report_url=CAMPAIGN_PAGE_URL.format(dc=self.data_centre, web_id=web_id)
            if isinstance(web_id, int)
            else "",
        )

    def schedule_campaign(self, campaign_id, when):
        """Schedule at the quarter-hour at or after when (Mailchimp's rule)."""
        self._call(
            "POST",
            f"/campaigns/{_id(campaign_id)}/actions/schedule",
            body={
                "schedule_time": campaigns.utc_iso(campaigns.quarter_hour_ceil(when))
            },
            ok=(200, 204),
        )

    def send_campaign(self, campaign_id):
        """Send now. Never repeated blindly: campaign() first."""
        self._call("POST", f"/campaigns/{_id(campaign_id)}/actions/send", ok=(200, 204))

    def cancel_campaign(self, campaign_id):
        """Unschedule: the campaign goes back to a draft, not sent."""
        self._call(
            "POST", f"/campaigns/{_id(campaign_id)}/actions/unschedule", ok=(200, 204)
        )

    def send_test(self, campaign_id, emails):
        self._call(
            "POST",
            f"/campaigns/{_id(campaign_id)}/actions/test",
            body={"test_emails": list(emails), "send_type": "html"},
            ok=(200, 204),
        )

    def delete_campaign(self, campaign_id):
        self._delete(f"/campaigns/{_id(campaign_id)}")


def _update_request(list_id, contact):
    """(method, path, body) of an existing member's update: ``status_if_new``
    only, never ``status``."""
    return (
        "PUT",
        f"/lists/{list_id}/members/{subscriber_hash(contact.email)}",
        {
            "email_address": contact.email,
            "status_if_new": "subscribed",
            "merge_fields": merge_fields(contact),
        },
    )


def _archive_request(list_id, address):
    return "DELETE", f"/lists/{list_id}/members/{subscriber_hash(address)}", None


def _template_id(value):
    text = str(value)
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"not a Mailchimp template id: {text[:40]!r}")
    return text


def _copied_id(value):
    """The id of the campaign to copy that a rule's template id names."""
    text = str(value)
    if not campaigns.is_copy(text):
        raise ValueError(f"not a campaign to copy: {text[:40]!r}")
    return _id(text[len(campaigns.COPY_PREFIX) :])


def _copy_title(source_title, title):
    """Whether title is one Mailchimp gives a copy of source_title."""
    return (
        isinstance(title, str)
        and not campaigns.is_keyed(title)
        and title.startswith(f"{source_title} (copy")
    )


def _rejected(answer, skip=None):
    return [
        (error["email_address"].lower(), str(error.get("error") or "rejected")[:200])
        for error in answer["errors"]
        if skip is None or error.get("error_code") != skip
    ]
