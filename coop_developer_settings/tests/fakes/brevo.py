# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A fake of Brevo's API v3 (the endpoints the buyer sync uses), on
127.0.0.1, with Brevo's documented rules (see newsletter/README.md of the
addon for the pages they come from): the ``api-key`` header, ``{code,
message}`` errors, imports that finish later (``GET /processes/{id}``),
``emailBlacklist`` applying to a whole import, list removals of at most 150
addresses, the ``x-sib-ratelimit-*`` headers on 429, contact attributes
(FIRSTNAME, LASTNAME and SMS in a new account; an import keeps no value of
an attribute the account lacks). ``import_outcome``: how the next imports
end (completed, or failed).

State for the tests' assertions: ``lists`` {id: name}, ``contacts``
{email: {"attributes", "blacklisted", "lists"}}, ``attributes`` {name:
type}, ``webhooks`` {id: body}.
"""

import itertools
import json
import time
import urllib.request

from .brevo_campaigns import BrevoCampaigns
from .common import FakeProvider, Reply

IMPORT_KEYS = {
    "jsonBody",
    "fileBody",
    "fileUrl",
    "listIds",
    "newList",
    "notifyUrl",
    "emailBlacklist",
    "smsBlacklist",
    "updateExistingContacts",
    "emptyContactsAttributes",
    "disableNotification",
}
WEBHOOK_KEYS = {
    "url",
    "description",
    "events",
    "type",
    "domain",
    "batched",
    "auth",
    "headers",
    "channel",
}
MARKETING_EVENTS = {
    "spam",
    "opened",
    "click",
    "hardBounce",
    "softBounce",
    "unsubscribed",
    "listAddition",
    "contactUpdated",
    "contactDeleted",
    "delivered",
}
ATTRIBUTE_CATEGORIES = {"normal", "transactional", "category", "calculated", "global"}
ATTRIBUTE_TYPES = {"text", "date", "float", "boolean", "id", "category"}
ATTRIBUTE_KEYS = {"type", "value", "isRecurring", "enumeration", "multiCategoryOptions"}
DEFAULT_ATTRIBUTES = {"FIRSTNAME": "text", "LASTNAME": "text", "SMS": "text"}
MAX_REMOVE = 150
MAX_LIST_PAGE = 50


class FakeBrevo(BrevoCampaigns, FakeProvider):
    prefix = "/v3"
    # Brevo's general rate limits (developers.brevo.com/docs/api-limits):
    # 10 requests a second (and 36 000 an hour) under /v3/contacts, 100 an
    # hour for every other endpoint (processes, account, webhooks).
    published_rate_limits = (
        (r"/contacts(/.*)?", 10, 1.0),
        (r"/contacts(/.*)?", 36000, 3600.0),
        (r"/(?!contacts(/|$)).*", 100, 3600.0),
    )

    def __init__(self, key="xkeysib-fake0123456789", *, import_delay=0.3, **options):
        self.import_delay = import_delay  # seconds before an import is done
        self.import_outcome = "completed"
        self.account_name = "La Coop du Coin"
        # The account's identity (GET /account organization_id): a rename
        # keeps it.
        self.organization_id = "64f0c1a2b3c4d5e6f7a8b9c0"
        self.lists = {}
        self.contacts = {}
        self.processes = {}
        self.webhooks = {}
        self.attributes = dict(DEFAULT_ATTRIBUTES)
        self._ids = itertools.count(1)
        self.init_campaigns()
        super().__init__(key, **options)

    def add_list(self, name):
        list_id = next(self._ids)
        self.lists[list_id] = name
        return list_id

    def contact(self, email):
        return self.contacts.setdefault(
            email, {"attributes": {}, "blacklisted": False, "lists": set()}
        )

    def unsubscribe(self, email):
        """What Brevo does when a contact unsubscribes from a campaign:
        blacklisted, and the event posted to each webhook of the account
        that asked for it. Returns the statuses the webhooks answered."""
        self.contact(email)["blacklisted"] = True
        statuses = []
        for webhook in list(self.webhooks.values()):
            if "unsubscribed" not in webhook.get("events", ()):
                continue
            body = json.dumps(
                {"event": "unsubscribed", "email": email, "date": "2026-12-02"}
            ).encode()
            post = urllib.request.Request(
                webhook["url"],
                data=body,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(post, timeout=30) as answer:  # noqa: S310
                statuses.append(answer.status)
        return statuses

    def members(self, list_id):
        return {email for email, c in self.contacts.items() if list_id in c["lists"]}

    # The contract.
    def authenticate(self, headers):
        if "Authorization" in headers:
            return "authenticated with Authorization, not the api-key header"
        key = headers.get("api-key")
        if key is None:
            return "no api-key header"
        return None if key == self.key else "wrong"

    def error(self, status, message):
        codes = {
            400: "invalid_parameter",
            401: "unauthorized",
            404: "document_not_found",
        }
        return {"code": codes.get(status, "bad_request"), "message": message}

    def limit_headers(self, reset):
        return {
            "x-sib-ratelimit-limit": "10",
            "x-sib-ratelimit-remaining": "0",
            "x-sib-ratelimit-reset": f"{reset:g}",
        }

    def route_table(self):
        return [
            ("GET", r"/account", self.get_account),
            ("GET", r"/contacts/lists", self.get_lists),
            ("POST", r"/contacts/import", self.post_import),
            ("GET", r"/processes/(\d+)", self.get_process),
            ("POST", r"/contacts/lists/(\d+)/contacts/remove", self.post_remove),
            ("GET", r"/contacts/attributes", self.get_attributes),
            ("POST", r"/contacts/attributes/(\w+)/(\w+)", self.post_attribute),
            ("POST", r"/webhooks", self.post_webhook),
            ("DELETE", r"/webhooks/(\d+)", self.delete_webhook),
            *self.campaign_routes(),
        ]

    def get_account(self, request, match):
        """The account's details (the documented ones the addon may read)."""
        account = {
            "organization_id": self.organization_id,
            "user_id": 9100001,
            "enterprise": False,
            "email": "shop@example.org",
            "firstName": "Camille",
            "lastName": "Martin",
            "companyName": self.account_name,
        }
        if self.organization_id is None:  # as documented before it was
            del account["organization_id"]
        return Reply(200, account)

    def get_lists(self, request, match):
        limit = int(request["query"].get("limit", 10))
        offset = int(request["query"].get("offset", 0))
        if limit > MAX_LIST_PAGE:
            self.violation(f"GET lists with limit {limit} > {MAX_LIST_PAGE}")
            return Reply(400, self.error(400, "limit must be at most 50"))
        page = sorted(self.lists.items())[offset : offset + limit]
        return Reply(
            200,
            {
                "lists": [
                    {"id": i, "name": n, "uniqueSubscribers": len(self.members(i))}
                    for i, n in page
                ],
                "count": len(self.lists),
            },
        )

    def post_import(self, request, match):
        refused = self.check_shape(request, IMPORT_KEYS)
        if refused:
            return refused
        body = request["body"]
        rows = body.get("jsonBody")
        if (
            not isinstance(rows, list)
            or not rows
            or not all(
                isinstance(row, dict)
                and set(row) <= {"email", "attributes"}
                and isinstance(row.get("email"), str)
                and isinstance(row.get("attributes", {}), dict)
                for row in rows
            )
        ):
            self.violation("import: jsonBody is not a list of {email, attributes}")
            return Reply(400, self.error(400, "Invalid jsonBody"))
        list_ids = body.get("listIds")
        if not isinstance(list_ids, list) or not all(
            isinstance(i, int) for i in list_ids
        ):
            self.violation("import: listIds is not a list of integers")
            return Reply(400, self.error(400, "Invalid listIds"))
        for flag in (
            "emailBlacklist",
            "updateExistingContacts",
            "emptyContactsAttributes",
        ):
            if not isinstance(body.get(flag, False), bool):
                self.violation(f"import: {flag} is not a boolean")
        unknown = [i for i in list_ids if i not in self.lists]
        if unknown:
            return Reply(404, self.error(404, f"List ID does not exist: {unknown[0]}"))
        process_id = next(self._ids)
        self.processes[process_id] = {
            "done_at": time.monotonic() + self.import_delay,
            "status": "queued",
            "body": body,
        }
        return Reply(202, {"processId": process_id})

    def get_process(self, request, match):
        process = self.processes.get(int(match.group(1)))
        if process is None:
            return Reply(404, self.error(404, "Process does not exist"))
        if process["status"] in ("queued", "in_process") and (
            time.monotonic() >= process["done_at"]
        ):
            process["status"] = self.import_outcome
            if process["status"] == "completed":
                self._apply_import(process["body"])
        elif process["status"] == "queued":
            process["status"] = "in_process"
        return Reply(
            200,
            {
                "id": int(match.group(1)),
                "name": "IMPORTUSER",
                "status": process["status"],
            },
        )

    def _apply_import(self, body):
        for row in body["jsonBody"]:
            email = row["email"].lower()
            known = email in self.contacts
            if known and body.get("updateExistingContacts") is False:
                continue
            contact = self.contact(email)
            for name, value in row.get("attributes", {}).items():
                if value in ("", None) and not body.get("emptyContactsAttributes"):
                    continue
                if name.upper() not in self.attributes:
                    continue  # Brevo ignores an attribute the account lacks
                contact["attributes"][name] = value
            contact["lists"].update(body["listIds"])
            if body.get("emailBlacklist"):
                contact["blacklisted"] = True

    def get_attributes(self, request, match):
        return Reply(
            200,
            {
                "attributes": [
                    {"name": name, "category": "normal", "type": kind}
                    for name, kind in self.attributes.items()
                ]
            },
        )

    def post_attribute(self, request, match):
        category, name = match.groups()
        refused = self.check_shape(request, ATTRIBUTE_KEYS)
        if refused:
            return refused
        kind = request["body"].get("type")
        if category not in ATTRIBUTE_CATEGORIES or kind not in ATTRIBUTE_TYPES:
            self.violation(f"attribute {name} of category {category}, type {kind}")
            return Reply(400, self.error(400, "Invalid attribute"))
        if name.upper() in self.attributes:
            return Reply(400, self.error(400, "Attribute name must be unique"))
        self.attributes[name.upper()] = kind
        return Reply(201)

    def post_remove(self, request, match):
        refused = self.check_shape(request, {"emails", "ids", "all"})
        if refused:
            return refused
        list_id = int(match.group(1))
        emails = request["body"].get("emails")
        if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
            self.violation("list removal: emails is not a list of addresses")
            return Reply(400, self.error(400, "Invalid emails"))
        if len(emails) > MAX_REMOVE:
            self.violation(f"list removal of {len(emails)} addresses > {MAX_REMOVE}")
            return Reply(400, self.error(400, "You can pass a maximum of 150 emails"))
        if list_id not in self.lists:
            return Reply(404, self.error(404, "List ID does not exist"))
        success = [e for e in emails if list_id in self.contact_lists(e)]
        if not success:
            return Reply(
                400,
                self.error(
                    400, "Contact already removed from list and/or does not exist"
                ),
            )
        for email in success:
            self.contacts[email.lower()]["lists"].discard(list_id)
        failure = [e for e in emails if e not in success]
        return Reply(201, {"contacts": {"success": success, "failure": failure}})

    def contact_lists(self, email):
        contact = self.contacts.get(email.lower())
        return contact["lists"] if contact else set()

    def post_webhook(self, request, match):
        refused = self.check_shape(request, WEBHOOK_KEYS, required={"url"})
        if refused:
            return refused
        body = request["body"]
        events = body.get("events", [])
        if (
            body.get("type", "transactional") != "marketing"
            or not set(events) <= MARKETING_EVENTS
        ):
            self.violation(f"webhook: events {events} of type {body.get('type')}")
            return Reply(400, self.error(400, "Invalid events"))
        webhook_id = next(self._ids)
        self.webhooks[webhook_id] = body
        return Reply(201, {"id": webhook_id})

    def delete_webhook(self, request, match):
        if self.webhooks.pop(int(match.group(1)), None) is None:
            return Reply(404, self.error(404, "Webhook not found"))
        return Reply(204)
