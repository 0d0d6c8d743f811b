# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Brevo's email campaigns in the fake (FakeBrevo mixes this in), with
Brevo's documented rules: templates listed by ``GET /smtp/templates``
(``limit`` ≤ 1000), senders by ``GET /senders``, campaigns listed by ``GET
/emailCampaigns`` (``limit`` ≤ 100, newest first with ``sort=desc``),
created by ``POST /emailCampaigns`` (``name`` and ``sender`` required,
``subject`` unless a ``templateId``, ``scheduledAt`` in the future, existing
template, sender and lists), sent by ``sendNow``, suspended by ``PUT
…/status``, test-sent by ``sendTest`` to the account's test list only (at
most 50 test emails a day).

A campaign sent twice, or a scheduled one sent, is a contract violation (a
send cannot be undone). ``slow_create``: seconds the next creations wait
before answering, once the campaign is created (a client's timeout with an
outcome it cannot know). ``sends_scheduled`` False: scheduled campaigns stay
queued past their time (a status that never settles).

State: ``templates`` {id: name}, ``senders`` {id: email}, ``campaigns``
{id: {"body", "status", "scheduledAt", "createdAt"}}, ``test_list``,
``tests_sent`` [(campaign id, address)], ``sends`` [campaign id].
"""

from datetime import datetime, timezone

from .common import Reply

CAMPAIGN_KEYS = {
    "tag",
    "sender",
    "name",
    "htmlContent",
    "htmlUrl",
    "templateId",
    "scheduledAt",
    "subject",
    "previewText",
    "replyTo",
    "toField",
    "recipients",
    "attachmentUrl",
    "inlineImageActivation",
    "mirrorActive",
    "footer",
    "header",
    "utmCampaign",
    "params",
    "sendAtBestTime",
    "abTesting",
    "ipWarmupEnable",
    "unsubscriptionPageId",
    "updateFormId",
}
UPDATE_KEYS = CAMPAIGN_KEYS - {"tag"}
STATUSES = {"suspended", "archive", "darchive", "sent", "queued", "replicate", "draft"}
MAX_TEMPLATE_PAGE = 1000
MAX_CAMPAIGN_PAGE = 100
TESTS_PER_DAY = 50


def _now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _parse(text):
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None  # Brevo wants the zone
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


class BrevoCampaigns:
    def init_campaigns(self):
        self.templates = {}
        self.senders = {}
        self.campaigns = {}
        self.test_list = set()
        self.tests_sent = []
        self.sends = []
        self.slow_create = 0.0
        self.sends_scheduled = True

    def add_template(self, name):
        template_id = next(self._ids)
        self.templates[template_id] = name
        return template_id

    def add_sender(self, name, email):
        sender_id = next(self._ids)
        self.senders[sender_id] = {"name": name, "email": email}
        return sender_id

    def campaign_routes(self):
        campaign = r"/emailCampaigns/(\d+)"
        return [
            ("GET", r"/smtp/templates", self.get_templates),
            ("GET", r"/senders", self.get_senders),
            ("GET", r"/emailCampaigns", self.get_campaigns),
            ("POST", r"/emailCampaigns", self.post_campaign),
            ("GET", campaign, self.get_campaign),
            ("PUT", campaign, self.put_campaign),
            ("DELETE", campaign, self.delete_campaign),
            ("POST", campaign + r"/sendNow", self.post_send_now),
            ("PUT", campaign + r"/status", self.put_status),
            ("POST", campaign + r"/sendTest", self.post_send_test),
        ]

    def _tick(self):
        """Scheduled campaigns whose time came are sent."""
        if not self.sends_scheduled:
            return
        now = _now()
        for campaign_id, campaign in self.campaigns.items():
            if campaign["status"] == "queued" and campaign["scheduledAt"] <= now:
                campaign["status"] = "sent"
                self.sends.append(campaign_id)

    def _json(self, campaign_id):
        campaign = self.campaigns[campaign_id]
        body = campaign["body"]
        scheduled = campaign["scheduledAt"]
        return {
            "id": campaign_id,
            "name": body["name"],
            "type": "classic",
            "status": campaign["status"],
            "subject": body.get("subject", ""),
            "tag": body.get("tag", ""),
            "scheduledAt": scheduled and scheduled.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "createdAt": campaign["createdAt"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "recipients": body.get("recipients", {}),
            "shareLink": f"https://fake.brevo.example/share/{campaign_id}",
        }

    def get_templates(self, request, match):
        limit = int(request["query"].get("limit", 50))
        offset = int(request["query"].get("offset", 0))
        if limit > MAX_TEMPLATE_PAGE:
            self.violation(f"GET templates with limit {limit} > {MAX_TEMPLATE_PAGE}")
            return Reply(400, self.error(400, "limit must be at most 1000"))
        page = sorted(self.templates.items())[offset : offset + limit]
        return Reply(
            200,
            {
                "templates": [
                    {"id": i, "name": n, "isActive": True, "subject": f"About {n}"}
                    for i, n in page
                ],
                "count": len(self.templates),
            },
        )

    def get_senders(self, request, match):
        return Reply(
            200,
            {
                "senders": [
                    {"id": i, **sender, "active": True}
                    for i, sender in sorted(self.senders.items())
                ]
            },
        )

    def get_campaigns(self, request, match):
        self._tick()
        limit = int(request["query"].get("limit", 500))
        offset = int(request["query"].get("offset", 0))
        if limit > MAX_CAMPAIGN_PAGE:
            self.violation(f"GET emailCampaigns with limit {limit} > 100")
            return Reply(400, self.error(400, "limit must be at most 100"))
        ids = sorted(self.campaigns, reverse=request["query"].get("sort") == "desc")
        page = ids[offset : offset + limit]
        return Reply(
            200,
            {"campaigns": [self._json(i) for i in page], "count": len(self.campaigns)},
        )

    def post_campaign(self, request, match):
        refused = self.check_shape(request, CAMPAIGN_KEYS, required={"name", "sender"})
        if refused:
            return refused
        body = request["body"]
        refused = self._check_campaign(body)
        if refused:
            return refused
        if not body.get("subject") and "templateId" not in body:
            return Reply(400, self.error(400, "subject is missing"))
        campaign_id = next(self._ids)
        scheduled = body.get("scheduledAt")
        self.campaigns[campaign_id] = {
            "body": body,
            "status": "queued" if scheduled else "draft",
            "scheduledAt": _parse(scheduled) if scheduled else None,
            "createdAt": _now(),
        }
        return Reply(201, {"id": campaign_id}, delay=self.slow_create)

    def _check_campaign(self, body):
        """The error reply of a campaign body Brevo refuses, or None."""
        sender = body.get("sender")
        if sender is not None:
            if not isinstance(sender, dict) or not set(sender) <= {
                "id",
                "name",
                "email",
            }:
                self.violation(f"campaign sender {sender!r}")
                return Reply(400, self.error(400, "Invalid sender"))
            if "id" in sender and sender["id"] not in self.senders:
                return Reply(400, self.error(400, "Sender is invalid / inactive"))
        if "templateId" in body:
            if not isinstance(body["templateId"], int):
                self.violation("campaign templateId is not an integer")
            if body["templateId"] not in self.templates:
                return Reply(404, self.error(404, "Template ID does not exist"))
        params = body.get("params")
        if params is not None and not (
            isinstance(params, dict)
            and all(isinstance(v, str | int | float) for v in params.values())
        ):
            self.violation(f"campaign params {params!r}")
            return Reply(400, self.error(400, "Invalid params"))
        recipients = body.get("recipients")
        if recipients is not None:
            list_ids = (
                recipients.get("listIds") if isinstance(recipients, dict) else None
            )
            if not isinstance(list_ids, list) or not all(
                isinstance(i, int) for i in list_ids
            ):
                self.violation(f"campaign recipients {recipients!r}")
                return Reply(400, self.error(400, "Invalid recipients"))
            if any(i not in self.lists for i in list_ids):
                return Reply(404, self.error(404, "List ID does not exist"))
        if "scheduledAt" in body:
            scheduled = _parse(body["scheduledAt"])
            if scheduled is None:
                self.violation(f"scheduledAt {body['scheduledAt']!r} without a zone")
                return Reply(400, self.error(400, "Invalid scheduledAt"))
            if scheduled <= _now():
                return Reply(400, self.error(400, "scheduledAt should be in future"))
        return None

    def _campaign_or_404(self, match):
        campaign = self.campaigns.get(int(match.group(1)))
        if campaign is None:
            return None, Reply(404, self.error(404, "Campaign ID does not exist"))
        return campaign, None

    def get_campaign(self, request, match):
        self._tick()
        campaign, missing = self._campaign_or_404(match)
        return missing or Reply(200, self._json(int(match.group(1))))

    def put_campaign(self, request, match):
        campaign, missing = self._campaign_or_404(match)
        refused = missing or self.check_shape(request, UPDATE_KEYS)
        if refused:
            return refused
        refused = self._check_campaign(request["body"])
        if refused:
            return refused
        if campaign["status"] not in ("draft", "suspended", "queued"):
            return Reply(400, self.error(400, "Campaign cannot be updated"))
        campaign["body"].update(request["body"])
        if "scheduledAt" in request["body"]:
            campaign["scheduledAt"] = _parse(request["body"]["scheduledAt"])
            campaign["status"] = "queued"
        return Reply(204)

    def delete_campaign(self, request, match):
        campaign, missing = self._campaign_or_404(match)
        if missing:
            return missing
        del self.campaigns[int(match.group(1))]
        return Reply(204)

    def post_send_now(self, request, match):
        self._tick()
        campaign, missing = self._campaign_or_404(match)
        if missing:
            return missing
        if campaign["status"] != "draft":
            self.violation(f"sendNow of a campaign {campaign['status']}")
            return Reply(400, self.error(400, "Campaign is not a draft"))
        campaign["status"] = "sent"
        self.sends.append(int(match.group(1)))
        return Reply(204)

    def put_status(self, request, match):
        self._tick()
        campaign, missing = self._campaign_or_404(match)
        refused = missing or self.check_shape(request, {"status"}, required={"status"})
        if refused:
            return refused
        status = request["body"]["status"]
        if status not in STATUSES:
            self.violation(f"campaign status {status!r}")
            return Reply(400, self.error(400, "Invalid status"))
        if status == "suspended" and campaign["status"] in ("sent", "in_process"):
            return Reply(400, self.error(400, "Campaign already sent"))
        campaign["status"] = status
        return Reply(204)

    def post_send_test(self, request, match):
        campaign, missing = self._campaign_or_404(match)
        refused = missing or self.check_shape(request, {"emailTo"})
        if refused:
            return refused
        emails = request["body"].get("emailTo") or sorted(self.test_list)
        outside = [e for e in emails if e not in self.test_list]
        if outside:
            return Reply(
                400,
                {
                    "code": "invalid_parameter",
                    "message": "Unable to send test email to the following "
                    "addresses, not in your test list: " + ", ".join(outside),
                    "withoutListEmails": outside,
                },
            )
        today = [t for t in self.tests_sent if t[2] == _now().date()]
        if len(today) + len(emails) > TESTS_PER_DAY:
            return Reply(400, self.error(400, "Test email limit of 50 a day reached"))
        self.tests_sent += [(int(match.group(1)), e, _now().date()) for e in emails]
        return Reply(204)
