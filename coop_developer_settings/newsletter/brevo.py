"""Brevo (ex-Sendinblue) API v3, the calls the buyer sync needs.

Contacts go in through the asynchronous import (``POST /contacts/import``,
followed to its end on ``GET /processes/{id}``), opted-out ones in an
import of their own because ``emailBlacklist`` applies to the whole
request. A blacklist is never cleared: no request of this module sends
``emailBlacklisted: false`` or changes a contact's EMAIL attribute (Brevo
clears the blacklist of a contact whose address is updated); a changed
address is the old one taken off the list and the new one imported.
"""

import json
import math

from . import campaign as campaigns
from .provider import (
    MAX_PAGES,
    OPTED_OUT,
    REMOVED,
    SUBSCRIBED,
    ProviderAccount,
    ProviderClient,
    ProviderError,
    ProviderList,
    SyncResult,
    chunks,
    is_number_id,
)

BASE_URL = "https://api.brevo.com/v3"
REMOVE_BATCH = 150  # addresses per list removal, Brevo's documented maximum
IMPORT_BATCH = 10000  # contacts per import at most,
IMPORT_BYTES = 4 << 20  # and their jsonBody under 4 MB (Brevo: 10 MB, 8 advised)
LIST_PAGE = 50  # lists a page of GET /contacts/lists
TEMPLATE_PAGE = 1000  # templates a page of GET /smtp/templates (Brevo's maximum)
CAMPAIGN_PAGE = 100  # campaigns a page of GET /emailCampaigns (Brevo's maximum)
# Brevo's campaign statuses, in the clients' common words.
CAMPAIGN_STATUSES = {
    "draft": campaigns.DRAFT,
    "queued": campaigns.SCHEDULED,
    "in_process": campaigns.SENDING,
    "inProcess": campaigns.SENDING,
    "sent": campaigns.SENT,
    "suspended": campaigns.SUSPENDED,
}
PROCESS_DONE = "completed"
PROCESS_FAILED = ("failed", "cancelled")
# How Brevo refuses a removal none of whose addresses is in the list.
ALREADY_REMOVED = "already removed"
# The contact attributes sent; they must exist in the account (Brevo
# ignores unknown attributes at import): ensure_fields creates them.
ATTRIBUTES = {
    "first_name": "FIRSTNAME",
    "last_name": "LASTNAME",
    "phone": "SMS",
    "shop": "COOP_SHOP",
    "first_order": "COOP_FIRST_ORDER",
    "last_order": "COOP_LAST_ORDER",
    "order_count": "COOP_ORDER_COUNT",
    "last_cycle": "COOP_LAST_CYCLE",
}

# The type of each, when the account lacks it (FIRSTNAME, LASTNAME and SMS
# come with every account; ISO dates are Brevo's date format).
ATTRIBUTE_TYPES = {
    "first_name": "text",
    "last_name": "text",
    "phone": "text",
    "shop": "text",
    "first_order": "date",
    "last_order": "date",
    "order_count": "float",
    "last_cycle": "text",
}


def import_parts(contacts):
    """The jsonBody rows of contacts, in parts an import takes."""
    part, size = [], 0
    for contact in contacts:
        row = {"email": contact.email, "attributes": attributes(contact)}
        row_size = len(json.dumps(row)) + 2  # and its separator
        if part and (len(part) == IMPORT_BATCH or size + row_size > IMPORT_BYTES):
            yield part
            part, size = [], 0
        part.append(row)
        size += row_size
    if part:
        yield part


def attributes(contact):
    values = {}
    for name, attribute in ATTRIBUTES.items():
        value = getattr(contact, name)
        if value in (None, ""):
            continue  # an empty value would not erase Brevo's (see import)
        values[attribute] = value.isoformat() if hasattr(value, "isoformat") else value
    return values


class BrevoClient(ProviderClient):
    provider = "Brevo"
    default_base_url = BASE_URL

    def _auth(self):
        return {"api-key": self._key}, None

    def _error_message(self, data):
        message = data.get("message")
        return message if isinstance(message, str) else None

    def _reset_delay(self, headers):
        try:
            reset = float(headers.get("x-sib-ratelimit-reset", ""))
        except ValueError:
            return super()._reset_delay(headers)
        # nan and infinities are no delay to wait.
        return reset if math.isfinite(reset) else super()._reset_delay(headers)

    def check_key(self):
        """The key's account: its organization id (Brevo's identity of the
        account), else its login address, and its name (its company, else
        its address)."""
        account = self._call("GET", "/account")
        self._expect(isinstance(account, dict), "account is not an object")
        email = account.get("email")
        # An answer as documented before the organization (older SDKs list
        # none): not refused for that, the login address names one account.
        identity = account.get("organization_id") or email
        self._expect(isinstance(identity, str) and identity, "account without an id")
        name = account.get("companyName") or email
        self._expect(isinstance(name, str) and name, "account without a name")
        return ProviderAccount(identity, name)

    def lists(self):
        found = self._lists("/contacts/lists", "limit", LIST_PAGE, "count")
        self._expect(
            all(is_number_id(item["id"]) for item in found), "a list id not a number"
        )
        return [
            ProviderList(
                str(item["id"]),
                str(item.get("name") or item["id"]),
                item.get("uniqueSubscribers", item.get("totalSubscribers")),
            )
            for item in found
        ]

    def ensure_fields(self, list_id, labels=None):
        """Create the contact attributes the sync writes that the account
        lacks (Brevo drops the values of unknown ones); returns those
        created. They belong to the account, not to the list; an
        attribute's name is its label."""
        existing = self._names(
            self._call("GET", "/contacts/attributes"),
            "attributes",
            "name",
            "attributes without their names",
        )
        created = []
        for name, attribute in ATTRIBUTES.items():
            if attribute in existing:
                continue
            self._call(
                "POST",
                f"/contacts/attributes/normal/{attribute}",
                body={"type": ATTRIBUTE_TYPES[name]},
                ok=(200, 201, 204),
            )
            created.append(attribute)
        return created

    def upsert_contacts(self, list_id, contacts):
        """Bring the list in line with contacts; returns a SyncResult once
        Brevo finished every import. Raises ProviderError (nothing to
        undo: repeating the call sends the same state again)."""
        list_id = _list_id(list_id)
        result = SyncResult()
        moved = [contact.previous_email for contact in contacts if contact.moved]
        removed = [c.email for c in contacts if c.state == REMOVED]
        self._remove(list_id, moved + removed)
        result.moved, result.removed = len(moved), len(removed)
        processes = []
        for state, blacklist in ((OPTED_OUT, True), (SUBSCRIBED, False)):
            batch = [contact for contact in contacts if contact.state == state]
            for rows in import_parts(batch):
                processes.append(self._import(list_id, rows, blacklist))
            if state == OPTED_OUT:
                result.opted_out = len(batch)
            else:
                result.subscribed = len(batch)
        self._follow_imports(processes)
        return result

    def _remove(self, list_id, emails):
        for part in chunks(emails, REMOVE_BATCH):
            try:
                self._call(
                    "POST",
                    f"/contacts/lists/{list_id}/contacts/remove",
                    body={"emails": part},
                    ok=(200, 201),
                )
            except ProviderError as exc:
                # None of them was in the list: nothing left to remove.
                if exc.status != 400 or ALREADY_REMOVED not in exc.message.lower():
                    raise

    def _import(self, list_id, rows, blacklist):
        """Starts an import; returns its process id."""
        body = {
            "listIds": [list_id],
            "updateExistingContacts": True,
            "emptyContactsAttributes": False,
            "disableNotification": True,
            "jsonBody": rows,
        }
        if blacklist:
            body["emailBlacklist"] = True  # all of this request's contacts
        answer = self._call("POST", "/contacts/import", body=body, ok=(200, 202))
        self._expect(
            isinstance(answer, dict) and isinstance(answer.get("processId"), int),
            "import without a processId",
        )
        return answer["processId"]

    def _follow_imports(self, process_ids):
        """Returns once Brevo finished every import. The processes endpoint
        shares Brevo's smallest quota (100 requests an hour for every
        endpoint outside /contacts): hence _follow's doubling waits."""
        self._follow(process_ids, self._import_finished, "import")

    def _import_finished(self, process_id):
        process = self._call("GET", f"/processes/{process_id}")
        self._expect(isinstance(process, dict), "process is not an object")
        status = process.get("status")
        self._expect(isinstance(status, str), "process without a status")
        if status in PROCESS_FAILED:
            raise ProviderError(self.provider, f"the import {process_id} {status}")
        return status == PROCESS_DONE

    def register_webhook(self, list_id, url):
        """A marketing webhook for unsubscribes (account-wide: Brevo's
        marketing webhooks are not per list); returns its id."""
        answer = self._call(
            "POST",
            "/webhooks",
            body={
                "url": url,
                "description": "Coop: opt-outs back to Odoo",
                "events": ["unsubscribed"],
                "type": "marketing",
            },
            ok=(200, 201),
        )
        self._expect(
            isinstance(answer, dict) and is_number_id(answer.get("id")),
            "webhook without id",
        )
        return str(answer["id"])

    def unregister_webhook(self, list_id, webhook_id):
        self._delete(f"/webhooks/{_list_id(webhook_id)}")

    # ------------------------------------------------------------------
    # Campaigns (the newsletter at a sale cycle's event)
    # ------------------------------------------------------------------

    def templates(self):
        """The account's active email templates."""
        found = self._lists(
            "/smtp/templates",
            "limit",
            TEMPLATE_PAGE,
            "count",
            {"templateStatus": "true"},
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
        """The account's active senders (a campaign needs one)."""
        answer = self._call("GET", "/senders")
        self._expect(isinstance(answer, dict), "senders is not an object")
        found = answer.get("senders") or []
        self._expect(
            isinstance(found, list)
            and all(isinstance(s, dict) and is_number_id(s.get("id")) for s in found),
            "senders without ids",
        )
        return [
            campaigns.Sender(
                str(s["id"]), str(s.get("name") or ""), str(s.get("email") or "")
            )
            for s in found
            if s.get("active", True)
        ]

    def find_campaign(self, key, list_id, since):
        """The campaign created since (naive UTC) whose name ends with the
        key, or None: the newest first, page by page, until those created
        before since (Brevo lists campaigns by creation date)."""
        for page in range(MAX_PAGES):
            answer = self._call(
                "GET",
                "/emailCampaigns",
                params={
                    "type": "classic",
                    "limit": CAMPAIGN_PAGE,
                    "offset": page * CAMPAIGN_PAGE,
                    "sort": "desc",
                    "excludeHtmlContent": "true",
                },
            )
            self._expect(isinstance(answer, dict), "campaigns is not an object")
            batch = answer.get("campaigns") or []
            self._expect(
                isinstance(batch, list) and all(isinstance(c, dict) for c in batch),
                "campaigns is not a list",
            )
            for item in batch:
                if campaigns.has_key(item.get("name"), key):
                    return self._campaign(item)
            created = [campaigns.parse_utc(item.get("createdAt")) for item in batch]
            if len(batch) < CAMPAIGN_PAGE or any(c and c < since for c in created):
                return None
        return None

    def create_campaign(self, draft):
        """Create the campaign, scheduled at draft.scheduled_at (None: a
        draft, to send with send_campaign); returns its id. Not to be
        repeated blindly: after an unknown outcome, find_campaign first."""
        body = {
            "name": draft.full_name,
            "tag": draft.key,
            "sender": {"id": int(_list_id(draft.sender_id))},
            "templateId": int(_list_id(draft.template_id)),
            "params": campaigns.brevo_params(draft.parameters),
            "recipients": {"listIds": [_list_id(draft.list_id)]},
        }
        if draft.subject:
            body["subject"] = draft.subject
        if draft.scheduled_at:
            body["scheduledAt"] = campaigns.utc_iso(draft.scheduled_at)
        answer = self._call("POST", "/emailCampaigns", body=body, ok=(200, 201))
        self._expect(
            isinstance(answer, dict) and is_number_id(answer.get("id")),
            "campaign without an id",
        )
        return str(answer["id"])

    def set_content(self, campaign_id, draft):
        """Nothing to do: the template and params are the campaign's since
        its creation."""

    def campaign(self, campaign_id):
        answer = self._call("GET", f"/emailCampaigns/{_list_id(campaign_id)}")
        self._expect(isinstance(answer, dict) and "id" in answer, "campaign without id")
        return self._campaign(answer)

    def _campaign(self, item):
        self._expect(is_number_id(item.get("id")), "a campaign id not a number")
        status = str(item.get("status") or "")
        return campaigns.Campaign(
            id=str(item.get("id")),
            name=str(item.get("name") or ""),
            status=CAMPAIGN_STATUSES.get(status, campaigns.UNKNOWN),
            provider_status=status[:40],
            scheduled_at=campaigns.parse_utc(item.get("scheduledAt")),
            report_url=campaigns.https_url(item.get("shareLink")),
        )

    def schedule_campaign(self, campaign_id, when):
        """Schedule a draft at when (naive UTC)."""
        self._call(
            "PUT",
            f"/emailCampaigns/{_list_id(campaign_id)}",
            body={"scheduledAt": campaigns.utc_iso(when)},
            ok=(200, 204),
        )

    def send_campaign(self, campaign_id):
        """Send a draft now. Never repeated blindly: campaign() first."""
        self._call(
            "POST", f"/emailCampaigns/{_list_id(campaign_id)}/sendNow", ok=(200, 204)
        )

    def cancel_campaign(self, campaign_id):
        """A scheduled campaign suspended: it is not sent."""
        self._call(
            "PUT",
            f"/emailCampaigns/{_list_id(campaign_id)}/status",
            body={"status": "suspended"},
            ok=(200, 204),
        )

    def send_test(self, campaign_id, emails):
        """Brevo's test send; the addresses must be in the account's test
        list (Brevo refuses the others)."""
        self._call(
            "POST",
            f"/emailCampaigns/{_list_id(campaign_id)}/sendTest",
            body={"emailTo": list(emails)},
            ok=(200, 204),
        )

    def delete_campaign(self, campaign_id):
        self._delete(f"/emailCampaigns/{_list_id(campaign_id)}")


def _list_id(value):
    """Brevo's ids are positive integers: anything else never reaches a path."""
    text = str(value)
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ValueError(f"not a Brevo id: {text[:40]!r}")
    return int(text)
