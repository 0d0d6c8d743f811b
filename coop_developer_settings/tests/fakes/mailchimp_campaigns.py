# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Mailchimp's campaigns in the fake (FakeMailchimp mixes this in), with
Mailchimp's documented rules: templates by ``GET /templates`` (``count`` ≤
1000), an audience's ``campaign_defaults``, campaigns listed by ``GET
/campaigns`` (``list_id``, ``since_create_time``, ``type``, ``status``,
``sort_field`` and ``sort_dir`` of their documented values, ``count`` ≤
1000; any other query parameter is a violation),
created by ``POST /campaigns`` (type, recipients, settings) or copied by
``actions/replicate`` (of a campaign saved or sent only: "Title (copy 01)",
saved, its settings and content), their settings changed by ``PATCH``
(``settings`` with its subject line, from name and reply-to, a saved
campaign only), their content from a template's editable sections or HTML
(``PUT …/content``) and read back (``GET …/content``), ``actions/schedule``
on the quarter-hour only and in the future, ``actions/unschedule`` of a
scheduled one, ``actions/send`` of a campaign ready to send (subject, from
name, reply-to and content), ``actions/test`` (at most 24 test emails a
day here: Mailchimp's limit depends on the plan).

A campaign sent twice is a contract violation (a send cannot be undone).
``slow_create`` / ``slow_replicate``: seconds the next creations / copies
wait before answering, once the campaign is made.

State: ``templates`` {id: {"name", "sections"}}, ``campaigns`` {id: {...}},
``tests_sent`` [(campaign id, address)], ``sends`` [campaign id].
"""

from datetime import datetime, timedelta, timezone

from .common import Reply

SETTINGS_KEYS = {
    "subject_line",
    "preview_text",
    "title",
    "from_name",
    "reply_to",
    "use_conversation",
    "to_name",
    "folder_id",
    "authenticate",
    "auto_footer",
    "inline_css",
    "auto_tweet",
    "fb_comments",
    "template_id",
}
CAMPAIGN_KEYS = {
    "type",
    "recipients",
    "settings",
    "variate_settings",
    "tracking",
    "rss_opts",
    "social_card",
    "content_type",
}
CONTENT_KEYS = {"plain_text", "html", "url", "template", "archive", "variate_contents"}
PATCH_KEYS = CAMPAIGN_KEYS - {"type", "content_type"}
PATCH_REQUIRED_SETTINGS = {"subject_line", "from_name", "reply_to"}
TYPES = {"regular", "plaintext", "absplit", "rss", "variate"}
STATUSES = {"save", "paused", "schedule", "sending", "sent"}
LIST_QUERY = {
    "fields",
    "exclude_fields",
    "count",
    "offset",
    "type",
    "status",
    "before_send_time",
    "since_send_time",
    "before_create_time",
    "since_create_time",
    "list_id",
    "folder_id",
    "member_id",
    "sort_field",
    "sort_dir",
}
SORT_FIELDS = {"create_time", "send_time"}
MAX_PAGE = 1000
TESTS_PER_DAY = 24


def _now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _parse(text):
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


class MailchimpCampaigns:
    def init_campaigns(self):
        self.templates = {}
        self.campaigns = {}
        self.defaults = {}  # list id: campaign_defaults
        self.tests_sent = []
        self.sends = []
        self.slow_create = 0.0
        self.slow_replicate = 0.0
        self._web_ids = 1000

    def add_template(self, name, sections=()):
        template_id = next(self._ids)
        self.templates[template_id] = {"name": name, "sections": set(sections)}
        return template_id

    def add_campaign(self, list_id, title, html, status="sent", subject="Hello"):
        """A campaign of the account (made in Mailchimp), to copy."""
        campaign_id = self._new_campaign(
            list_id, {"title": title, "subject_line": subject}
        )
        campaign = self.campaigns[campaign_id]
        campaign.update(status=status, content={"html": html}, html=html)
        if status == "sent":
            campaign["send_time"] = _now()
        elif status == "schedule":
            campaign["send_time"] = _now() + timedelta(days=1)
        return campaign_id

    def _new_campaign(self, list_id, settings):
        self._web_ids += 1
        campaign_id = f"c{next(self._ids):09d}"
        self.campaigns[campaign_id] = {
            "id": campaign_id,
            "web_id": self._web_ids,
            "type": "regular",
            "status": "save",
            "create_time": _now(),
            "send_time": None,
            "recipients": {"list_id": list_id},
            "settings": dict(settings),
            "content": None,
            "html": "",
        }
        return campaign_id

    def campaign_routes(self):
        campaign = r"/campaigns/(\w+)"
        return [
            ("GET", r"/templates", self.get_templates),
            ("GET", r"/lists/(\w+)", self.get_list),
            ("GET", r"/campaigns", self.get_campaigns),
            ("POST", r"/campaigns", self.post_campaign),
            ("GET", campaign, self.get_campaign),
            ("PATCH", campaign, self.patch_campaign),
            ("DELETE", campaign, self.delete_campaign),
            ("GET", campaign + r"/content", self.get_content),
            ("PUT", campaign + r"/content", self.put_content),
            ("POST", campaign + r"/actions/replicate", self.post_replicate),
            ("POST", campaign + r"/actions/schedule", self.post_schedule),
            ("POST", campaign + r"/actions/unschedule", self.post_unschedule),
            ("POST", campaign + r"/actions/send", self.post_send),
            ("POST", campaign + r"/actions/test", self.post_test),
        ]

    def _tick(self):
        now = _now()
        for campaign_id, campaign in self.campaigns.items():
            if campaign["status"] == "schedule" and campaign["send_time"] <= now:
                campaign["status"] = "sent"
                self.sends.append(campaign_id)

    def _json(self, campaign):
        send_time = campaign["send_time"]
        return {
            "id": campaign["id"],
            "web_id": campaign["web_id"],
            "type": campaign["type"],
            "status": campaign["status"],
            "create_time": campaign["create_time"].strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "send_time": send_time.strftime("%Y-%m-%dT%H:%M:%S+00:00")
            if send_time
            else "",
            "recipients": campaign["recipients"],
            "settings": campaign["settings"],
        }

    def _not_found(self):
        return Reply(404, self.error(404, "The requested resource could not be found."))

    def get_templates(self, request, match):
        count = int(request["query"].get("count", 10))
        offset = int(request["query"].get("offset", 0))
        if count > MAX_PAGE:
            self.violation(f"GET templates with count {count} > {MAX_PAGE}")
        page = sorted(self.templates.items())[offset : offset + count]
        return Reply(
            200,
            {
                "templates": [
                    {"id": i, "name": t["name"], "type": "user"} for i, t in page
                ],
                "total_items": len(self.templates),
            },
        )

    def get_list(self, request, match):
        list_id = match.group(1)
        if list_id not in self.lists:
            return self._not_found()
        defaults = self.defaults.get(
            list_id,
            {
                "from_name": self.account_name,
                "from_email": "news@example.org",
                "subject": "",
                "language": "en",
            },
        )
        return Reply(200, {"id": list_id, "campaign_defaults": defaults})

    def get_campaigns(self, request, match):
        self._tick()
        query = request["query"]
        unknown = set(query) - LIST_QUERY
        if unknown:
            self.violation(f"GET campaigns with {sorted(unknown)}")
        count = int(query.get("count", 10))
        offset = int(query.get("offset", 0))
        if count > MAX_PAGE:
            self.violation(f"GET campaigns with count {count} > {MAX_PAGE}")
        for name, allowed in (
            ("type", TYPES),
            ("status", STATUSES),
            ("sort_field", SORT_FIELDS),
            ("sort_dir", {"ASC", "DESC"}),
        ):
            if name in query and query[name] not in allowed:
                self.violation(f"GET campaigns with {name}={query[name]!r}")
                return Reply(400, self.error(400, f"Invalid {name}"))
        since = (
            _parse(query["since_create_time"]) if "since_create_time" in query else None
        )
        found = [
            c
            for _i, c in sorted(self.campaigns.items())
            if query.get("list_id") in (None, c["recipients"].get("list_id"))
            and query.get("type") in (None, c["type"])
            and query.get("status") in (None, c["status"])
            and (since is None or c["create_time"] >= since)
        ]
        if "sort_field" in query:
            found.sort(
                key=lambda c: c[query["sort_field"]] or datetime.min,
                reverse=query.get("sort_dir") == "DESC",
            )
        return Reply(
            200,
            {
                "campaigns": [self._json(c) for c in found[offset : offset + count]],
                "total_items": len(found),
            },
        )

    def post_campaign(self, request, match):
        refused = self.check_shape(request, CAMPAIGN_KEYS, required={"type"})
        if refused:
            return refused
        body = request["body"]
        if body["type"] not in TYPES:
            self.violation(f"campaign type {body['type']!r}")
            return Reply(400, self.error(400, "Invalid campaign type"))
        settings = body.get("settings") or {}
        if not isinstance(settings, dict) or not set(settings) <= SETTINGS_KEYS:
            self.violation(f"campaign settings {sorted(settings)}")
            return Reply(400, self.error(400, "Invalid settings"))
        list_id = (body.get("recipients") or {}).get("list_id")
        if list_id not in self.lists:
            return self._not_found()
        campaign_id = self._new_campaign(list_id, settings)
        self.campaigns[campaign_id]["type"] = body["type"]
        return Reply(
            200, self._json(self.campaigns[campaign_id]), delay=self.slow_create
        )

    def post_replicate(self, request, match):
        source = self.campaigns.get(match.group(1))
        if source is None:
            return self._not_found()
        if request["raw"]:
            self.violation("replicate with a body")
        if source["status"] not in ("save", "sent"):
            return Reply(
                400, self.error(400, "Only saved or sent campaigns can be replicated")
            )
        title = source["settings"].get("title") or "Untitled"
        campaign_id = self._new_campaign(
            source["recipients"]["list_id"],
            {**source["settings"], "title": f"{title} (copy 01)"},
        )
        copy = self.campaigns[campaign_id]
        copy.update(
            type=source["type"],
            recipients=dict(source["recipients"]),
            content=source["content"],
            html=source["html"],
        )
        return Reply(200, self._json(copy), delay=self.slow_replicate)

    def patch_campaign(self, request, match):
        campaign = self.campaigns.get(match.group(1))
        if campaign is None:
            return self._not_found()
        refused = self.check_shape(request, PATCH_KEYS, required={"settings"})
        if refused:
            return refused
        body = request["body"]
        settings = body["settings"]
        if (
            not isinstance(settings, dict)
            or not set(settings) <= SETTINGS_KEYS
            or not PATCH_REQUIRED_SETTINGS <= set(settings)
        ):
            self.violation(f"PATCH campaign settings {sorted(settings)}")
            return Reply(400, self.error(400, "Invalid settings"))
        recipients = body.get("recipients")
        if recipients is not None and recipients.get("list_id") not in self.lists:
            return self._not_found()
        if campaign["status"] != "save":
            return Reply(400, self.error(400, "This campaign cannot be edited"))
        campaign["settings"].update(settings)
        if recipients is not None:
            campaign["recipients"] = dict(recipients)
        return Reply(200, self._json(campaign))

    def get_content(self, request, match):
        campaign = self.campaigns.get(match.group(1))
        if campaign is None:
            return self._not_found()
        if set(request["query"]) - {"fields", "exclude_fields"}:
            self.violation(f"GET content with {sorted(request['query'])}")
        return Reply(200, {"html": campaign["html"], "plain_text": ""})

    def get_campaign(self, request, match):
        self._tick()
        campaign = self.campaigns.get(match.group(1))
        return Reply(200, self._json(campaign)) if campaign else self._not_found()

    def delete_campaign(self, request, match):
        if self.campaigns.pop(match.group(1), None) is None:
            return self._not_found()
        return Reply(204)

    def put_content(self, request, match):
        campaign = self.campaigns.get(match.group(1))
        if campaign is None:
            return self._not_found()
        refused = self.check_shape(request, CONTENT_KEYS)
        if refused:
            return refused
        template = request["body"].get("template")
        if template is not None:
            if not isinstance(template, dict) or not set(template) <= {
                "id",
                "sections",
            }:
                self.violation(f"content template {template!r}")
                return Reply(400, self.error(400, "Invalid template"))
            if template.get("id") not in self.templates:
                return self._not_found()
            sections = template.get("sections") or {}
            if not all(isinstance(v, str) for v in sections.values()):
                self.violation("content sections are not texts")
        html = request["body"].get("html")
        if html is not None and not isinstance(html, str):
            self.violation("content html is not a text")
        if campaign["status"] != "save":
            return Reply(400, self.error(400, "This campaign cannot be edited"))
        campaign["content"] = request["body"]
        campaign["html"] = html if html is not None else "<html>…</html>"
        return Reply(200, {"html": campaign["html"]})

    def _not_ready(self, campaign):
        settings = campaign["settings"]
        missing = [
            name
            for name in ("subject_line", "from_name", "reply_to")
            if not settings.get(name)
        ]
        if campaign["content"] is None:
            missing.append("content")
        if missing:
            return Reply(
                400,
                self.error(
                    400, f"Your Campaign is not ready to send: {', '.join(missing)}"
                ),
            )
        return None

    def post_schedule(self, request, match):
        self._tick()
        campaign = self.campaigns.get(match.group(1))
        if campaign is None:
            return self._not_found()
        refused = self.check_shape(
            request, {"schedule_time", "timewarp", "batch_delivery"}, {"schedule_time"}
        ) or self._not_ready(campaign)
        if refused:
            return refused
        when = _parse(request["body"]["schedule_time"])
        if when is None or when.minute % 15 or when.second:
            self.violation(f"schedule_time {request['body']['schedule_time']!r}")
            return Reply(
                400,
                self.error(400, "Campaigns may only be scheduled on the quarter-hour"),
            )
        if when <= _now():
            return Reply(400, self.error(400, "The schedule time is in the past"))
        if campaign["status"] != "save":
            return Reply(400, self.error(400, "This campaign cannot be scheduled"))
        campaign.update(status="schedule", send_time=when)
        return Reply(204)

    def post_unschedule(self, request, match):
        self._tick()
        campaign = self.campaigns.get(match.group(1))
        if campaign is None:
            return self._not_found()
        if campaign["status"] != "schedule":
            return Reply(400, self.error(400, "This campaign is not scheduled"))
        campaign.update(status="save", send_time=None)
        return Reply(204)

    def post_send(self, request, match):
        self._tick()
        campaign = self.campaigns.get(match.group(1))
        if campaign is None:
            return self._not_found()
        refused = self._not_ready(campaign)
        if refused:
            return refused
        if campaign["status"] != "save":
            self.violation(f"send of a campaign {campaign['status']}")
            return Reply(400, self.error(400, "This campaign has already been sent"))
        campaign.update(status="sent", send_time=_now())
        self.sends.append(campaign["id"])
        return Reply(204)

    def post_test(self, request, match):
        campaign = self.campaigns.get(match.group(1))
        if campaign is None:
            return self._not_found()
        refused = self.check_shape(
            request, {"test_emails", "send_type"}, {"test_emails", "send_type"}
        ) or self._not_ready(campaign)
        if refused:
            return refused
        emails = request["body"]["test_emails"]
        today = [t for t in self.tests_sent if t[2] == _now().date()]
        if len(today) + len(emails) > TESTS_PER_DAY:
            return Reply(400, self.error(400, "You have reached the test email limit"))
        self.tests_sent += [(campaign["id"], e, _now().date()) for e in emails]
        return Reply(204)
