# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A fake of Mailchimp's Marketing API 3.0 (the endpoints the buyer sync
uses), on 127.0.0.1, with Mailchimp's documented rules: HTTP Basic with the
key as password, problem-document errors ``{type, title, status, detail,
instance}``, batches of at most 500 members answered 200 with an ``errors``
array, ``status_if_new`` on the member upsert only, unsubscribed members
never subscribed again ("Member In Compliance State"), archive by DELETE,
list webhooks checked with a GET to their URL, at most 10 connections at
once, and 429 without any rate-limit header. Merge fields: an audience
starts with FNAME, LNAME, ADDRESS and PHONE; new ones need a name, a type
Mailchimp knows and a tag of at most 10 upper-case letters, digits or
underscores, unique in the audience, 30 at most (the free plan); a member
sent with a tag the audience lacks, or a value its type refuses, is
outside the contract.

Batch operations (``POST /batches``): ``operations``, each ``{method, path
(after /3.0), params, body (the JSON body as a string), operation_id}``;
answered 200 ``pending``, then processed in the background after
``batch_delay`` seconds (``preprocessing``, ``started``, ``finalizing`` on
the way; ``finished`` once every operation ran), Mailchimp running one batch
at a time, in the order received. Each operation runs the same handler as
the direct request (an operation outside the contract is a violation too);
one answered 4xx/5xx counts in ``errored_operations``; its answers are at a
``response_body_url`` off the API host. At most 500 batches pending per
account (the next answered 429).

State for the tests' assertions: ``lists`` {id: name}, ``members``
{list_id: {email: {"status", "merge_fields", "archived"}}}, ``merge_fields``
{list_id: {tag: {"merge_id", "tag", "name", "type", "options", "required"}}},
``webhooks`` {id: body}, ``batches`` {id: {"operations", "status",
"results": [(operation, HTTP status)], ...}}.
"""

import base64
import hashlib
import itertools
import re
import threading
import time
import urllib.parse
import urllib.request

from .common import FakeProvider, Reply
from .mailchimp_campaigns import MailchimpCampaigns

MAX_BATCH = 500
MAX_PAGE = 1000
STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}
BATCH_MEMBER_KEYS = {
    "email_address",
    "email_type",
    "status",
    "merge_fields",
    "interests",
    "language",
    "vip",
    "location",
    "marketing_permissions",
    "ip_signup",
    "timestamp_signup",
    "ip_opt",
    "timestamp_opt",
    "tags",
}
MEMBER_KEYS = BATCH_MEMBER_KEYS | {"status_if_new", "skip_merge_validation"}
WEBHOOK_EVENTS = {
    "subscribe",
    "unsubscribe",
    "profile",
    "cleaned",
    "upemail",
    "campaign",
}
WEBHOOK_SOURCES = {"user", "admin", "api"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COMPLIANCE = "Member In Compliance State"
DEFAULT_MERGE_FIELDS = {
    "FNAME": ("First Name", "text"),
    "LNAME": ("Last Name", "text"),
    "ADDRESS": ("Address", "address"),
    "PHONE": ("Phone Number", "phone"),
}
MERGE_FIELD_TYPES = {
    "text",
    "number",
    "address",
    "phone",
    "date",
    "url",
    "imageurl",
    "radio",
    "dropdown",
    "birthday",
    "zip",
}
MERGE_FIELD_KEYS = {
    "tag",
    "name",
    "type",
    "required",
    "default_value",
    "public",
    "display_order",
    "options",
    "help_text",
}
MERGE_TAG = re.compile(r"^[A-Z0-9_]{1,10}$")
MAX_MERGE_FIELDS = 30
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
INTERNATIONAL_PHONE = re.compile(r"^\+[0-9]{2,15}$")
OPERATION_KEYS = {"method", "path", "params", "body", "operation_id"}
OPERATION_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
MAX_PENDING_BATCHES = 500
# The steps of a batch, at these fractions of batch_delay.
BATCH_STEPS = ((0.1, "pending"), (0.3, "preprocessing"), (0.9, "started"))


class FakeMailchimp(MailchimpCampaigns, FakeProvider):
    prefix = "/3.0"
    error_type = "application/problem+json"
    max_in_flight = 10

    def __init__(
        self,
        key="0123456789abcdef0123456789abcdef-us21",
        *,
        check_webhook_urls=True,
        batch_delay=0.3,
        **options,
    ):
        self.check_webhook_urls = check_webhook_urls
        self.batch_delay = batch_delay  # seconds before a batch is processed
        self.batches = {}
        self._batch_timers = []
        self._by_hash = {}  # {list_id: {subscriber hash: address}}
        self.account_name = "La Coop du Coin"
        # The account's identity (the API root's account_id): a rename keeps it.
        self.account_id = "8d3a3db4d97663a9074efcc16"
        self.lists = {}
        self.members = {}
        self.merge_fields = {}
        self.webhooks = {}
        self.reject = set()  # addresses a batch refuses (partial errors)
        self._ids = itertools.count(1)
        self.init_campaigns()
        super().__init__(key, **options)

    def add_list(self, name, merge_fields=None):
        """A new audience with these merge fields ({tag: (name, type)};
        None: Mailchimp's defaults)."""
        list_id = f"list{next(self._ids):06d}"
        self.lists[list_id] = name
        self.members[list_id] = {}
        self.merge_fields[list_id] = {}
        for tag, (label, kind) in (merge_fields or DEFAULT_MERGE_FIELDS).items():
            self._add_merge_field(list_id, {"tag": tag, "name": label, "type": kind})
        return list_id

    def _add_merge_field(self, list_id, body):
        field = {
            "merge_id": len(self.merge_fields[list_id]) + 1,
            "tag": body["tag"],
            "name": body["name"],
            "type": body["type"],
            "options": body.get("options") or {},
            "required": bool(body.get("required")),
        }
        self.merge_fields[list_id][body["tag"]] = field
        return field

    def _missing_required(self, list_id, values):
        """The required merge fields values leave empty."""
        return [
            tag
            for tag, field in self.merge_fields[list_id].items()
            if field["required"] and values.get(tag) in (None, "")
        ]

    def status(self, list_id, email):
        member = self.members[list_id].get(email)
        if member is None:
            return None
        return "archived" if member["archived"] else member["status"]

    def unsubscribe(self, list_id, email):
        """What Mailchimp does when a member unsubscribes: the status, and
        the form posted to each webhook of the list that asked for it.
        Returns the statuses the webhooks answered."""
        self.members[list_id][email]["status"] = "unsubscribed"
        statuses = []
        for webhook in list(self.webhooks.values()):
            if webhook["list_id"] != list_id or not webhook["events"].get(
                "unsubscribe"
            ):
                continue
            form = urllib.parse.urlencode(
                {
                    "type": "unsubscribe",
                    "fired_at": "2026-12-02 23:00:00",
                    "data[action]": "unsub",
                    "data[email]": email,
                    "data[list_id]": list_id,
                }
            ).encode()
            with urllib.request.urlopen(  # noqa: S310
                webhook["url"], data=form, timeout=30
            ) as answer:
                statuses.append(answer.status)
        return statuses

    # The contract.
    def authenticate(self, headers):
        value = headers.get("Authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "basic":
            return f"authenticated with {scheme or 'nothing'}, not HTTP Basic"
        try:
            _user, _, key = base64.b64decode(token).decode().partition(":")
        except ValueError:
            return "unreadable HTTP Basic credentials"
        return None if key == self.key else "wrong"

    def error(self, status, message):
        titles = {
            400: "Invalid Resource",
            401: "API Key Invalid",
            404: "Resource Not Found",
            429: "Too Many Requests",
        }
        return {
            "type": "https://mailchimp.com/developer/marketing/docs/errors/",
            "title": titles.get(status, "Error"),
            "status": status,
            "detail": message,
            "instance": "00000000-fake-0000-0000-000000000000",
        }

    def route_table(self):
        member = r"/lists/(\w+)/members/([0-9a-f]{32})"
        return [
            ("GET", r"/ping", self.get_ping),
            ("GET", r"/", self.get_root),
            ("GET", r"/lists", self.get_lists),
            ("POST", r"/lists/(\w+)", self.post_batch),
            ("PUT", member, self.put_member),
            ("DELETE", member, self.delete_member),
            ("GET", r"/lists/(\w+)/merge-fields", self.get_merge_fields),
            ("POST", r"/lists/(\w+)/merge-fields", self.post_merge_field),
            ("POST", r"/lists/(\w+)/webhooks", self.post_webhook),
            ("DELETE", r"/lists/(\w+)/webhooks/(\w+)", self.delete_webhook),
            ("POST", r"/batches", self.post_batches),
            ("GET", r"/batches/(\w+)", self.get_batch_status),
            *self.campaign_routes(),
        ]

    def get_ping(self, request, match):
        return Reply(200, {"health_status": "Everything's Chimpy!"})

    def get_root(self, request, match):
        """The API root's account details (a documented subset), only the
        ``fields`` asked for when there are."""
        root = {
            "account_id": self.account_id,
            "login_id": "91000001",
            "account_name": self.account_name,
            "email": "shop@example.org",
            "username": "lacoopducoin",
            "role": "owner",
        }
        asked = request["query"].get("fields")
        if asked is None:
            return Reply(200, root)
        names = asked.split(",")
        unknown = sorted(set(names) - set(root))
        if unknown:
            self.violation(f"GET / with fields outside the API root: {unknown}")
        return Reply(200, {name: root[name] for name in names if name in root})

    def get_lists(self, request, match):
        count = int(request["query"].get("count", 10))
        offset = int(request["query"].get("offset", 0))
        if count > MAX_PAGE:
            self.violation(f"GET lists with count {count} > {MAX_PAGE}")
        page = sorted(self.lists.items())[offset : offset + count]
        return Reply(
            200,
            {
                "lists": [
                    {"id": i, "name": n, "stats": {"member_count": self._count(i)}}
                    for i, n in page
                ],
                "total_items": len(self.lists),
            },
        )

    def _count(self, list_id):
        return sum(
            1
            for member in self.members[list_id].values()
            if member["status"] == "subscribed" and not member["archived"]
        )

    def _missing_list(self, list_id):
        if list_id not in self.lists:
            return Reply(
                404, self.error(404, "The requested resource could not be found.")
            )
        return None

    def post_batch(self, request, match):
        list_id = match.group(1)
        refused = self.check_shape(
            request, {"members", "update_existing", "sync_tags"}, required={"members"}
        ) or self._missing_list(list_id)
        if refused:
            return refused
        members = request["body"]["members"]
        if not isinstance(members, list) or len(members) > MAX_BATCH:
            self.violation(f"batch of {len(members)} members > {MAX_BATCH}")
            return Reply(400, self.error(400, "Too many members"))
        update = request["body"].get("update_existing", False)
        answer = {"new_members": [], "updated_members": [], "errors": []}
        for item in members:
            if not isinstance(item, dict) or not set(item) <= BATCH_MEMBER_KEYS:
                self.violation(f"batch member with keys {sorted(item)}")
                return Reply(400, self.error(400, "Invalid member"))
            if item.get("status") not in STATUSES:
                self.violation(f"batch member status {item.get('status')!r}")
                return Reply(400, self.error(400, "Invalid status"))
            refused = self._check_merge_values(list_id, item.get("merge_fields"))
            if refused:
                return refused
            self._batch_member(list_id, item, update, answer)
        answer.update(
            total_created=len(answer["new_members"]),
            total_updated=len(answer["updated_members"]),
            error_count=len(answer["errors"]),
        )
        return Reply(200, answer)

    def _batch_member(self, list_id, item, update, answer):
        """One member of a batch: added, updated or refused in answer."""
        address = str(item.get("email_address", ""))
        email = address.lower()
        known = self.members[list_id].get(email)
        if email in self.reject or not EMAIL.match(email):
            answer["errors"].append(
                self._member_error(
                    address, "ERROR_GENERIC", f"{address} looks fake or invalid"
                )
            )
        elif known and not known["archived"] and not update:
            answer["errors"].append(
                self._member_error(
                    address,
                    "ERROR_CONTACT_EXISTS",
                    f"{address} is already a list member.",
                )
            )
        elif self._missing_required(
            list_id,
            {**(known or {}).get("merge_fields", {}), **item.get("merge_fields", {})},
        ):
            answer["errors"].append(
                self._member_error(
                    address, "ERROR_GENERIC", "Your merge fields were invalid."
                )
            )
        elif (
            known
            and known["status"] in ("unsubscribed", "cleaned")
            and item["status"] in ("subscribed", "pending")
        ):
            answer["errors"].append(
                self._member_error(address, "ERROR_GENERIC", COMPLIANCE)
            )
        else:
            self.members[list_id][email] = {
                "status": item["status"],
                "merge_fields": {
                    **(known or {}).get("merge_fields", {}),
                    **item.get("merge_fields", {}),
                },
                "archived": False,
            }
            kind = "updated_members" if known else "new_members"
            answer[kind].append({"email_address": address, "status": item["status"]})

    def _member_error(self, address, code, message):
        return {
            "email_address": address,
            "error": message,
            "error_code": code,
            "field": "",
            "field_message": "",
        }

    def put_member(self, request, match):
        list_id, member_hash = match.groups()
        refused = self.check_shape(
            request, MEMBER_KEYS, required={"email_address"}
        ) or self._missing_list(list_id)
        if refused:
            return refused
        body = request["body"]
        refused = self._check_merge_values(list_id, body.get("merge_fields"))
        if refused:
            return refused
        email = str(body["email_address"]).lower()
        if hashlib.md5(email.encode()).hexdigest() != member_hash:  # noqa: S324
            self.violation(f"PUT member {member_hash}: not the hash of {email}")
            return Reply(400, self.error(400, "The subscriber hash does not match"))
        known = self.members[list_id].get(email)
        missing = self._missing_required(
            list_id,
            {
                **(known or {}).get("merge_fields", {}),
                **(body.get("merge_fields") or {}),
            },
        )
        if missing and not body.get("skip_merge_validation"):
            return Reply(
                400,
                {
                    **self.error(400, "Your merge fields were invalid."),
                    "errors": [
                        {"field": tag, "message": "Please enter a value"}
                        for tag in missing
                    ],
                },
            )
        if known is None or known["archived"]:
            status = body.get("status", body.get("status_if_new"))
            if status not in STATUSES:
                return Reply(
                    400, self.error(400, "status_if_new is required for a new member")
                )
            if (
                known
                and known["status"] in ("unsubscribed", "cleaned")
                and status == "subscribed"
            ):
                return Reply(400, self.error(400, f"{email} is in a compliance state"))
            known = self.members[list_id][email] = {
                "status": status,
                "merge_fields": {},
                "archived": False,
            }
        elif "status" in body:
            if (
                known["status"] in ("unsubscribed", "cleaned")
                and body["status"] == "subscribed"
            ):
                return Reply(
                    400,
                    {
                        **self.error(400, f"{email} is in a compliance state"),
                        "title": COMPLIANCE,
                    },
                )
            known["status"] = body["status"]
        known["merge_fields"].update(body.get("merge_fields") or {})
        return Reply(200, {"email_address": email, "status": known["status"]})

    def delete_member(self, request, match):
        list_id, member_hash = match.groups()
        refused = self._missing_list(list_id)
        if refused:
            return refused
        member = self.members[list_id].get(self._address_of(list_id, member_hash))
        if member is None or member["archived"]:
            return Reply(
                404, self.error(404, "The requested resource could not be found.")
            )
        member["archived"] = True
        return Reply(204)

    def _address_of(self, list_id, member_hash):
        """The address whose subscriber hash is member_hash, or None: an
        index by hash, made again when members were added (members are
        archived, never deleted). A scan of the audience per archive made
        the fake, not the client, most of a benchmark's time."""
        members = self.members[list_id]
        index = self._by_hash.get(list_id)
        if index is None or len(index) != len(members):
            index = self._by_hash[list_id] = {
                hashlib.md5(email.encode()).hexdigest(): email  # noqa: S324
                for email in members
            }
        return index.get(member_hash)

    def _check_merge_values(self, list_id, values):
        """A violation (and Mailchimp's 400) for a tag the audience lacks
        or a value its type refuses; None when the values are fine."""
        fields = self.merge_fields[list_id]
        for tag, value in (values or {}).items():
            field = fields.get(tag)
            if field is None:
                problem = f"merge field {tag} is not in the audience"
            elif field["type"] == "number" and not isinstance(value, int | float):
                problem = f"{tag}: {value!r} is not a number"
            elif field["type"] == "date" and not ISO_DATE.match(str(value)):
                problem = f"{tag}: {value!r} is not a YYYY-MM-DD date"
            elif (
                field["type"] == "phone"
                and field["options"].get("phone_format") == "International"
                and not INTERNATIONAL_PHONE.match(str(value))
            ):
                problem = f"{tag}: {value!r} is not an international number"
            else:
                continue
            self.violation(f"member merge fields: {problem}")
            return Reply(400, self.error(400, "Your merge fields were invalid."))
        return None

    def get_merge_fields(self, request, match):
        list_id = match.group(1)
        refused = self._missing_list(list_id)
        if refused:
            return refused
        count = int(request["query"].get("count", 10))
        offset = int(request["query"].get("offset", 0))
        if count > MAX_PAGE:
            self.violation(f"GET merge-fields with count {count} > {MAX_PAGE}")
        fields = list(self.merge_fields[list_id].values())
        return Reply(
            200,
            {
                "merge_fields": fields[offset : offset + count],
                "list_id": list_id,
                "total_items": len(fields),
            },
        )

    def post_merge_field(self, request, match):
        list_id = match.group(1)
        refused = self.check_shape(
            request, MERGE_FIELD_KEYS, required={"name", "type"}
        ) or self._missing_list(list_id)
        if refused:
            return refused
        body = request["body"]
        if body["type"] not in MERGE_FIELD_TYPES:
            self.violation(f"merge field type {body['type']!r}")
            return Reply(400, self.error(400, "Invalid merge field type"))
        tag = body.get("tag")
        if tag is None:  # Mailchimp names it MMERGE<n>
            tag = f"MMERGE{len(self.merge_fields[list_id]) + 1}"
        if not isinstance(tag, str) or not MERGE_TAG.match(tag):
            self.violation(f"merge field tag {tag!r}")
            return Reply(400, self.error(400, "Invalid merge field tag"))
        if tag in self.merge_fields[list_id]:
            return Reply(
                400, self.error(400, f"A Merge Field with the tag {tag} already exists")
            )
        if len(self.merge_fields[list_id]) >= MAX_MERGE_FIELDS:
            return Reply(
                400,
                self.error(
                    400,
                    f"This audience has reached its maximum of {MAX_MERGE_FIELDS} "
                    "merge fields.",
                ),
            )
        field = self._add_merge_field(list_id, {**body, "tag": tag})
        return Reply(200, {**field, "list_id": list_id})

    def post_webhook(self, request, match):
        list_id = match.group(1)
        refused = self.check_shape(
            request, {"url", "events", "sources"}, required={"url"}
        ) or self._missing_list(list_id)
        if refused:
            return refused
        body = request["body"]
        if (
            not set(body.get("events", {})) <= WEBHOOK_EVENTS
            or not set(body.get("sources", {})) <= WEBHOOK_SOURCES
        ):
            self.violation(
                f"webhook events {body.get('events')} sources {body.get('sources')}"
            )
            return Reply(400, self.error(400, "Invalid events or sources"))
        if self.check_webhook_urls and not self._url_answers(body["url"]):
            return Reply(
                400,
                self.error(
                    400,
                    "The resource submitted could not be validated: "
                    "the URL did not answer a GET with 200.",
                ),
            )
        webhook_id = f"wh{next(self._ids):06d}"
        self.webhooks[webhook_id] = {**body, "list_id": list_id}
        return Reply(200, {"id": webhook_id, "url": body["url"], "list_id": list_id})

    @staticmethod
    def _url_answers(url):
        """Mailchimp's check of a new webhook: a GET that must answer 200."""
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310
                return answer.status == 200
        except OSError:
            return False

    def delete_webhook(self, request, match):
        list_id, webhook_id = match.groups()
        webhook = self.webhooks.get(webhook_id)
        if webhook is None or webhook["list_id"] != list_id:
            return Reply(
                404, self.error(404, "The requested resource could not be found.")
            )
        del self.webhooks[webhook_id]
        return Reply(204)

    # Batch operations.
    def __exit__(self, *exc):
        for timer in self._batch_timers:
            timer.cancel()
        return super().__exit__(*exc)

    def post_batches(self, request, match):
        refused = self.check_shape(request, {"operations"}, required={"operations"})
        if refused:
            return refused
        operations = request["body"]["operations"]
        if not isinstance(operations, list) or not all(
            isinstance(op, dict)
            and set(op) <= OPERATION_KEYS
            and op.get("method") in OPERATION_METHODS
            and isinstance(op.get("path"), str)
            and op["path"].startswith("/")
            and isinstance(op.get("body", ""), str)
            for op in operations
        ):
            self.violation(
                "batch operations: not a list of {method, path, params, "
                "body (a JSON string), operation_id}"
            )
            return Reply(400, self.error(400, "Invalid operations"))
        pending = sum(1 for b in self.batches.values() if b["status"] != "finished")
        if pending >= MAX_PENDING_BATCHES:
            return Reply(
                429,
                self.error(
                    429, f"You have more than {MAX_PENDING_BATCHES} pending batches."
                ),
            )
        batch_id = f"b{next(self._ids):09d}"
        batch = self.batches[batch_id] = {
            "id": batch_id,
            "operations": operations,
            "status": "pending",
            "submitted": time.monotonic(),
            "results": [],
        }
        timer = threading.Timer(self.batch_delay, self._run_batch, (batch,))
        timer.daemon = True
        self._batch_timers.append(timer)
        timer.start()
        return Reply(200, self._batch_json(batch))

    def get_batch_status(self, request, match):
        batch = self.batches.get(match.group(1))
        if batch is None:
            return Reply(
                404, self.error(404, "The requested resource could not be found.")
            )
        return Reply(200, self._batch_json(batch))

    def _batch_json(self, batch):
        total = len(batch["operations"])
        status, done = batch["status"], total
        if status != "finished":
            elapsed = (time.monotonic() - batch["submitted"]) / (self.batch_delay or 1)
            status = next(
                (name for until, name in BATCH_STEPS if elapsed < until), "finalizing"
            )
            done = int(total * min(elapsed, 1.0)) if status != "pending" else 0
        errored = sum(1 for _op, code in batch["results"] if code >= 400)
        return {
            "id": batch["id"],
            "status": status,
            "total_operations": total,
            "finished_operations": done,
            "errored_operations": errored if status == "finished" else 0,
            "response_body_url": (
                f"https://mailchimp-api-batch.s3.amazonaws.com/{batch['id']}"
                "-response.tar.gz"
                if status == "finished"
                else ""
            ),
        }

    def _run_batch(self, batch):
        """Every operation of batch, and first of those received before it
        and not done yet, through the direct endpoints' handlers."""
        with self.lock:
            for earlier in list(self.batches.values()):
                if earlier["status"] != "finished":
                    for operation in earlier["operations"]:
                        reply = self._operation(operation)
                        earlier["results"].append((operation, reply.status))
                    earlier["status"] = "finished"
                if earlier is batch:
                    return

    def _operation(self, operation):
        """An operation of a batch, through the direct request's handler."""
        where = f"batch operation {operation['method']} {operation['path']}"
        request = {
            "method": operation["method"],
            "path": self.prefix + operation["path"],
            "query": operation.get("params") or {},
            "headers": {},
            "raw": operation.get("body", "").encode(),
            "body": None,
        }
        return self.parse_body(request, where) or self.dispatch(
            request, where, exclude=(self.post_batches, self.get_batch_status)
        )
