"""The campaign calls of the Brevo and Mailchimp clients against the fakes,
and the parameters escaped for where they go."""

from datetime import datetime, timedelta, timezone

import pytest
from fakes.brevo import FakeBrevo
from fakes.mailchimp import FakeMailchimp

from coop_developer_settings.newsletter import brevo, campaign, mailchimp
from coop_developer_settings.newsletter.provider import ProviderError, TimedOut

FAST = {"connect_timeout": 2, "total_timeout": 2}
PARAMETERS = {
    "COOP_CYCLE_NAME": "Week <b>12</b> & *|EMAIL|*",
    "COOP_OPENS_AT": "Monday 2 March 2026, 09:00",
    "COOP_CLOSES_AT": "Wednesday 4 March 2026, 18:00",
    "COOP_SHOP_NAME": "La Coop",
    "COOP_SHOP_URL": "https://shop.example.org/?a=1&b=2",
    "COOP_CYCLE_DESCRIPTION": "Line one\nLine {{ params.X }} two",
}


def now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def draft(fake_list, template, **values):
    return campaign.Draft(
        key=values.pop("key", "coop-abc-1"),
        name="Week 12 — opened",
        list_id=str(fake_list),
        template_id=str(template),
        parameters=PARAMETERS,
        **values,
    )


def test_parameters_are_escaped_for_where_they_go():
    params = campaign.brevo_params(PARAMETERS)
    # Brevo escapes variables itself: the text as it is.
    assert params["COOP_CYCLE_NAME"] == PARAMETERS["COOP_CYCLE_NAME"]
    sections = campaign.mailchimp_sections(PARAMETERS)
    assert sections["coop_cycle_name"] == (
        "Week &lt;b&gt;12&lt;/b&gt; &amp; *&#124;EMAIL&#124;*"
    )
    assert "*|" not in "".join(sections.values())
    assert sections["coop_cycle_description"] == "Line one<br>Line {{ params.X }} two"
    with pytest.raises(ValueError, match="unknown parameters"):
        campaign.Draft("k", "n", "1", "1", {"COOP_SECRET": "x"})


def test_only_https_links_are_kept():
    assert campaign.https_url("https://x.example/r?id=1") == "https://x.example/r?id=1"
    for hostile in ("javascript:alert(1)", "http://x.example", None, 3):
        assert campaign.https_url(hostile) == ""


def test_a_mailchimp_id_is_matched_whole():
    """A final line break is no part of an id: refused before any request."""
    with (
        FakeMailchimp() as fake,
        mailchimp.MailchimpClient(fake.key, base_url=fake.url, **FAST) as client,
    ):
        with pytest.raises(ValueError, match="not a Mailchimp id"):
            client.campaign("c000000001\n")
        assert not fake.requests


def test_quarter_hours():
    base = datetime(2026, 3, 2, 9, 0)
    assert campaign.quarter_hour_ceil(base) == base
    assert campaign.quarter_hour_ceil(base + timedelta(seconds=1)) == datetime(
        2026, 3, 2, 9, 15
    )
    assert campaign.quarter_hour_ceil(datetime(2026, 3, 2, 9, 46)) == datetime(
        2026, 3, 2, 10, 0
    )


def test_brevo_campaign_created_scheduled_found_and_suspended():
    with FakeBrevo() as fake:
        list_id = fake.add_list("Buyers")
        template = fake.add_template("Weekly")
        sender = fake.add_sender("La Coop", "news@example.org")
        client = brevo.BrevoClient(fake.key, base_url=fake.url, **FAST)
        assert [t.name for t in client.templates()] == ["Weekly"]
        assert [s.email for s in client.senders()] == ["news@example.org"]
        when = now() + timedelta(hours=1)
        made = draft(list_id, template, sender_id=str(sender), scheduled_at=when)
        assert client.find_campaign(made.key, made.list_id, now()) is None
        campaign_id = client.create_campaign(made)
        body = fake.campaigns[int(campaign_id)]["body"]
        assert body["recipients"] == {"listIds": [list_id]}
        assert body["templateId"] == template and body["params"] == PARAMETERS
        found = client.find_campaign(made.key, made.list_id, now() - timedelta(1))
        assert found.id == campaign_id and found.status == campaign.SCHEDULED
        assert abs(found.scheduled_at - when) < timedelta(seconds=1)
        client.cancel_campaign(campaign_id)
        assert client.campaign(campaign_id).status == campaign.SUSPENDED
        assert fake.sends == []


def test_brevo_test_send_only_to_the_test_list():
    with FakeBrevo() as fake:
        list_id = fake.add_list("Buyers")
        template = fake.add_template("Weekly")
        sender = fake.add_sender("La Coop", "news@example.org")
        fake.test_list.add("me@example.org")
        client = brevo.BrevoClient(fake.key, base_url=fake.url, **FAST)
        campaign_id = client.create_campaign(
            draft(list_id, template, sender_id=str(sender))
        )
        client.send_test(campaign_id, ["me@example.org"])
        with pytest.raises(ProviderError, match="not in your test list"):
            client.send_test(campaign_id, ["other@example.org"])
        assert [t[1] for t in fake.tests_sent] == ["me@example.org"]


def test_a_create_that_times_out_is_found_afterwards():
    with FakeMailchimp() as fake:
        list_id = fake.add_list("Buyers")
        template = fake.add_template("Weekly", ["coop_cycle_name"])
        client = mailchimp.MailchimpClient(fake.key, base_url=fake.url, **FAST)
        made = draft(list_id, template, subject="This week")
        fake.slow_create = 3
        with pytest.raises(TimedOut):
            client.create_campaign(made)
        fake.slow_create = 0
        found = client.find_campaign(made.key, list_id, now() - timedelta(days=1))
        assert found and found.status == campaign.DRAFT
        assert len(fake.campaigns) == 1


def test_mailchimp_campaign_content_schedule_unschedule_send():
    with FakeMailchimp() as fake:
        list_id = fake.add_list("Buyers")
        template = fake.add_template("Weekly", ["coop_cycle_name"])
        client = mailchimp.MailchimpClient(fake.key, base_url=fake.url, **FAST)
        made = draft(list_id, template, subject="This week")
        campaign_id = client.create_campaign(made)
        client.set_content(campaign_id, made)
        sections = fake.campaigns[campaign_id]["content"]["template"]["sections"]
        assert sections["coop_shop_url"] == "https://shop.example.org/?a=1&amp;b=2"
        when = now() + timedelta(hours=2)
        client.schedule_campaign(campaign_id, when)
        seen = client.campaign(campaign_id)
        assert seen.status == campaign.SCHEDULED
        assert seen.scheduled_at == campaign.quarter_hour_ceil(when)
        assert seen.report_url.endswith(f"?id={fake.campaigns[campaign_id]['web_id']}")
        client.cancel_campaign(campaign_id)
        assert client.campaign(campaign_id).status == campaign.DRAFT
        client.send_test(campaign_id, ["me@example.org"])
        client.send_campaign(campaign_id)
        assert fake.sends == [campaign_id]
        with pytest.raises(ProviderError, match="already been sent"):
            client.send_campaign(campaign_id)
        fake.violations.clear()  # the second send was the point


COPIED_PAGE = (
    "<html><body><h1>*|COOP_CYCLE_NAME|*</h1><p>Hello *|FNAME|*,</p>"
    '<a href="*|COOP_SHOP_URL|*">shop</a><p>*|COOP_CYCLE_DESCRIPTION|*</p>'
    "<p>*|coop_shop_name|* {{ params.X }}</p></body></html>"
)


def test_mailchimp_lists_its_campaigns_to_copy():
    with FakeMailchimp() as fake:
        list_id = fake.add_list("Buyers")
        other = fake.add_list("Other")
        sent = fake.add_campaign(list_id, "Last week", COPIED_PAGE)
        saved = fake.add_campaign(list_id, "Spring draft", "<p></p>", status="save")
        fake.add_campaign(list_id, "Made [coop-0a1b2c3d-7]", "<p></p>")
        fake.add_campaign(other, "Other audience", "<p></p>")
        fake.add_campaign(list_id, "Scheduled", "<p></p>", status="schedule")
        fake.add_template("Weekly", ["coop_cycle_name"])
        client = mailchimp.MailchimpClient(fake.key, base_url=fake.url, **FAST)
        copies = client.campaigns_to_copy(list_id)
        assert [(c.id, c.name) for c in copies] == [
            (campaign.COPY_PREFIX + sent, "Last week"),
            (campaign.COPY_PREFIX + saved, "Spring draft"),
        ]
        assert [t.name for t in client.templates()] == ["Weekly"]


def test_mailchimp_copy_of_a_campaign_with_the_parameters_in_its_html():
    with FakeMailchimp() as fake:
        list_id = fake.add_list("Buyers")
        source = fake.add_campaign(list_id, "Last week", COPIED_PAGE)
        client = mailchimp.MailchimpClient(fake.key, base_url=fake.url, **FAST)
        made = draft(list_id, campaign.COPY_PREFIX + source, subject="This week")
        copy_id = client.create_campaign(made)
        assert copy_id != source
        copy = fake.campaigns[copy_id]
        assert copy["settings"]["title"] == made.full_name
        assert copy["settings"]["subject_line"] == "This week"
        assert copy["recipients"] == {"list_id": list_id}
        assert client.find_campaign(made.key, list_id, now() - timedelta(1)).id == (
            copy_id
        )
        client.set_content(copy_id, made)
        page = copy["html"]
        assert "<h1>Week &lt;b&gt;12&lt;/b&gt; &amp; *&#124;EMAIL&#124;*</h1>" in page
        assert 'href="https://shop.example.org/?a=1&amp;b=2"' in page
        assert "<p>Line one<br>Line {{ params.X }} two</p>" in page
        # Anything else as it was: Mailchimp's own merge tags, other text.
        assert "Hello *|FNAME|*," in page
        assert "*|coop_shop_name|* {{ params.X }}" in page
        client.set_content(copy_id, made)  # again: nothing left to replace
        assert copy["html"] == page
        assert fake.campaigns[source]["html"] == COPIED_PAGE
        client.schedule_campaign(copy_id, now() + timedelta(hours=1))
        assert client.campaign(copy_id).status == campaign.SCHEDULED


def test_a_replicate_whose_answer_was_lost_is_taken_not_made_again():
    with FakeMailchimp() as fake:
        list_id = fake.add_list("Buyers")
        source = fake.add_campaign(list_id, "Last week", COPIED_PAGE)
        client = mailchimp.MailchimpClient(fake.key, base_url=fake.url, **FAST)
        made = draft(
            list_id,
            campaign.COPY_PREFIX + source,
            subject="This week",
            lost_copy_since=now() - timedelta(minutes=5),
        )
        fake.slow_replicate = 3  # the client gives up after 2 s
        with pytest.raises(TimedOut):
            client.create_campaign(made)
        fake.slow_replicate = 0
        [lost] = set(fake.campaigns) - {source}
        assert client.create_campaign(made) == lost
        assert len(fake.campaigns) == 2
        assert len(fake.calls("POST", r".*/actions/replicate")) == 1
        assert fake.campaigns[lost]["settings"]["title"] == made.full_name
        # Made again once its key is there: the key is found first.
        assert client.find_campaign(made.key, list_id, now() - timedelta(1)).id == lost


def test_the_lost_copy_look_up_takes_neither_the_source_nor_another_title():
    """A saved campaign to copy is itself an unkeyed draft of the audience
    with the source's title: never taken for a lost copy, nor a draft of
    another title; only a copy as Mailchimp names one."""
    with FakeMailchimp() as fake:
        list_id = fake.add_list("Buyers")
        source = fake.add_campaign(list_id, "Last week", COPIED_PAGE, status="save")
        fake.add_campaign(list_id, "Last weekend (copy 01)", "<p></p>", status="save")
        client = mailchimp.MailchimpClient(fake.key, base_url=fake.url, **FAST)
        made = draft(
            list_id,
            campaign.COPY_PREFIX + source,
            lost_copy_since=now() - timedelta(minutes=5),
        )
        copy_id = client.create_campaign(made)
        assert copy_id != source
        assert len(fake.calls("POST", r".*/actions/replicate")) == 1
        assert fake.campaigns[source]["settings"]["title"] == "Last week"


def test_campaigns_to_copy_whose_id_is_no_id_are_left_out():
    with FakeMailchimp() as fake:
        list_id = fake.add_list("Buyers")
        kept = fake.add_campaign(list_id, "Last week", COPIED_PAGE)
        bad = fake.add_campaign(list_id, "Hostile", "<p></p>")
        fake.campaigns["../lists"] = dict(fake.campaigns.pop(bad), id="../lists")
        client = mailchimp.MailchimpClient(fake.key, base_url=fake.url, **FAST)
        assert [c.id for c in client.campaigns_to_copy(list_id)] == [
            campaign.COPY_PREFIX + kept
        ]


def test_rule_ids_that_are_junk_never_reach_a_path():
    for junk in ("12/../lists", "campaign:", "campaign:../x", "1 OR 1", "abc"):
        with pytest.raises(ValueError):
            mailchimp._template_id(junk)
        with pytest.raises(ValueError):
            mailchimp._copied_id(junk)
    assert mailchimp._copied_id("campaign:a1b2c3") == "a1b2c3"
    with pytest.raises(ValueError):
        mailchimp._template_id("campaign:a1b2c3")
    with pytest.raises(ValueError):
        brevo._list_id("campaign:a1b2c3")
