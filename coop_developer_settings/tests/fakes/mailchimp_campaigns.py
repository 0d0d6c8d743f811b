# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Mailchimp's campaigns in the fake (FakeMailchimp mixes this in), with
Mailchimp's documented rules: templates by ``GET /templates`` (``count`` ≤
1000), an audience's ``campaign_defaults``, campaigns listed by ``GET
/campaigns`` (``list_id``, ``since_create_time``, ``count`` ≤ 1000),
created by ``POST /campaigns`` (type, recipients, settings), their content
from a template's editable sections (``PUT …/content``), ``actions/schedule``
on the quarter-hour only and in the future, ``actions/unschedule`` of a
scheduled one, ``actions/send`` of a campaign ready to send (subject, from
name, reply-to and content), ``actions/test`` (at most 24 test emails a
day here: Mailchimp's limit depends on the plan).

A campaign sent twice is a contract violation (a send cannot be undone).
``slow_create``: seconds the next creations wait before answering, once the
campaign is created.

State: ``templates`` {id: {"name", "sections"}}, ``campaigns`` {id: {...}},
``tests_sent`` [(campaign id, address)], ``sends`` [campaign id].
"""

from datetime import datetime, timezone

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
TYPES = {"regular", "plaintext", "absplit", "rss", "variate"}
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
        self._web_ids = 1000

    def add_template(self, name, sections=()):
        template_id = next(self._ids)
        self.templates[template_id] = {"name": name, "sections": set(sections)}
        return template_id

    def campaign_routes(self):
        campaign = r"/campaigns/(\w+)"
        return [
            ("GET", r"/templates", self.get_templates),
            ("GET", r"/lists/(\w+)", self.get_list),
            ("GET", r"/campaigns", self.get_campaigns),
            ("POST", r"/campaigns", self.post_campaign),
            ("GET", campaign, self.get_campaign),
            ("DELETE", campaign, self.delete_campaign),
            ("PUT", campaign + r"/content", self.put_content),
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
            "type": "regular",
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
        count = int(query.get("count", 10))
        offset = int(query.get("offset", 0))
        if count > MAX_PAGE:
            self.violation(f"GET campaigns with count {count} > {MAX_PAGE}")
        since = (
            _parse(query["since_create_time"]) if "since_create_time" in query else None
        )
        found = [
            c
            for _i, c in sorted(self.campaigns.items())
            if query.get("list_id") in (None, c["recipients"].get("list_id"))
            and (since is None or c["create_time"] >= since)
        ]
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
        self._web_ids += 1
        campaign_id = f"c{next(self._ids):09d}"
        self.campaigns[campaign_id] = {
            "id": campaign_id,
            "web_id": self._web_ids,
            "status": "save",
            "create_time": _now(),
            "send_time": None,
            "recipients": {"list_id": list_id},
            "settings": dict(settings),
            "content": None,
        }
        return Reply(
            200, self._json(self.campaigns[campaign_id]), delay=self.slow_create
        )

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
        if campaign["status"] != "save":
            return Reply(400, self.error(400, "This campaign cannot be edited"))
        campaign["content"] = request["body"]
        return Reply(200, {"html": "<html>…</html>"})

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
