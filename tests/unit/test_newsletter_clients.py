"""The Brevo and Mailchimp clients against their fakes on 127.0.0.1: the
providers' rules kept, opt-outs never undone, hostile answers turned into
readable errors. Plain pytest, no Odoo, a few seconds."""

import json
import logging
import socket
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from fakes import mailchimp as fakes_mailchimp
from fakes.brevo import FakeBrevo
from fakes.mailchimp import FakeMailchimp
from hypothesis import given
from hypothesis import strategies as st

from coop_developer_settings.newsletter import brevo, mailchimp, provider
from coop_developer_settings.newsletter.provider import (
    OPTED_OUT,
    REMOVED,
    Contact,
    InvalidEmail,
    MalformedAnswer,
    ProviderError,
    RateLimited,
    TimedOut,
    Unreachable,
    WrongKey,
    normalise_email,
)

FAST = {"connect_timeout": 2, "total_timeout": 5}


def contacts(count, start=0, **values):
    return [
        Contact(f"buyer{n}@example.org", **values) for n in range(start, start + count)
    ]


@pytest.fixture
def fake_brevo():
    with FakeBrevo(import_delay=0.2) as fake:
        yield fake


@pytest.fixture
def fake_mailchimp():
    with FakeMailchimp() as fake:
        yield fake


def brevo_client(fake, **options):
    return brevo.BrevoClient(
        fake.key, base_url=fake.url, poll_interval=0.05, **{**FAST, **options}
    )


def mailchimp_client(fake, **options):
    return mailchimp.MailchimpClient(fake.key, base_url=fake.url, **{**FAST, **options})


def audience(fake, name="Buyers"):
    """A new audience with the merge fields the sync writes, as the
    connection makes it when its list is chosen."""
    list_id = fake.add_list(name)
    with mailchimp_client(fake) as client:
        client.ensure_fields(list_id)
    return list_id


# The contact the sync hands over.


def test_addresses_are_normalised_or_refused_with_a_reason():
    assert normalise_email("Zoë <Zoe@Example.org>") == "zoe@example.org"
    assert normalise_email("  bob@example.org ") == "bob@example.org"
    with pytest.raises(InvalidEmail) as several:
        normalise_email("a@example.org, b@example.org")
    assert several.value.reason == "several"
    for text in ("", "Zoë", "zoe@", "zoe@localhost", None):
        with pytest.raises(InvalidEmail) as none:
            normalise_email(text)
        assert none.value.reason == "none"


@given(address=st.from_regex(provider.PLAIN_EMAIL, fullmatch=True))
def test_a_plain_address_is_normalised_as_the_parser_would(address):
    def outcome(function):
        try:
            return function(address)
        except InvalidEmail as exc:  # too long
            return exc.reason

    assert outcome(normalise_email) == outcome(provider._parsed_email)


def test_a_plain_address_is_checked_without_the_address_parser(monkeypatch):
    # The parser is most of a sync's time per buyer (issue #22, benchmark).
    def parser(*args):
        raise AssertionError("the address parser was called")

    monkeypatch.setattr(provider.email.utils, "getaddresses", parser)
    assert normalise_email("zoe.durand+shop@mail.example.org") == (
        "zoe.durand+shop@mail.example.org"
    )
    Contact("zoe@example.org", previous_email="zoe@example.net")
    monkeypatch.undo()
    assert normalise_email("Zoe@Example.org") == "zoe@example.org"


def test_a_contact_holds_a_normalised_address_and_an_e164_phone():
    assert Contact("zoe@example.org", phone="+33612345678").phone == "+33612345678"
    for wrong in (
        {"email": "Zoe@example.org"},
        {"email": "zoe@example.org", "phone": "06 12 34 56 78"},
        {"email": "zoe@example.org", "state": "gone"},
        {"email": "zoe@example.org", "previous_email": "Zoë <z@example.org>"},
    ):
        with pytest.raises(ValueError):
            Contact(**wrong)
    assert Contact("zoe@example.org", previous_email="z@example.org").moved
    assert not Contact("zoe@example.org", previous_email="zoe@example.org").moved


# Keys and hosts.


def test_brevo_key_is_checked_and_gives_the_account(fake_brevo):
    assert brevo_client(fake_brevo).check_key() == provider.ProviderAccount(
        fake_brevo.organization_id, "La Coop du Coin"
    )
    wrong = brevo.BrevoClient("xkeysib-not-the-key", base_url=fake_brevo.url, **FAST)
    with pytest.raises(WrongKey) as refused:
        wrong.check_key()
    assert refused.value.message == "Key not found"
    assert "xkeysib-not-the-key" not in f"{refused.value!r} {refused.value} {wrong!r}"
    assert (
        fake_brevo.calls("GET", "/v3/account")[0]["headers"]["api-key"]
        == fake_brevo.key
    )


def test_mailchimp_key_names_its_data_centre_strictly(fake_mailchimp):
    client = mailchimp.MailchimpClient("0123456789abcdef-us21")
    assert repr(client) == "<MailchimpClient https://us21.api.mailchimp.com/3.0>"
    for key in (
        "0123456789abcdef",
        "0123456789abcdef-eu1",
        "0123456789abcdef-us21.evil.example",
        "0123456789abcdef-us1234",
        "0123456789abcdef-us21\r\nX-Injected: 1",
    ):
        with pytest.raises(WrongKey) as refused:
            mailchimp.MailchimpClient(key, base_url=fake_mailchimp.url)
        assert key not in str(refused.value)
    assert mailchimp_client(fake_mailchimp).check_key() == provider.ProviderAccount(
        fake_mailchimp.account_id, "La Coop du Coin"
    )
    assert [r["path"] for r in fake_mailchimp.requests] == ["/3.0/ping", "/3.0/"]
    assert fake_mailchimp.requests[1]["query"] == {"fields": "account_id,account_name"}
    wrong = mailchimp.MailchimpClient("ffff0000-us21", base_url=fake_mailchimp.url)
    with pytest.raises(WrongKey):
        wrong.check_key()


def test_the_account_is_known_by_its_identity_not_its_name(fake_brevo, fake_mailchimp):
    """Brevo's organization id and Mailchimp's account id: a rename keeps
    them, an account without one cannot be told from another."""
    brevo_account = brevo_client(fake_brevo).check_key()
    mailchimp_account = mailchimp_client(fake_mailchimp).check_key()
    fake_brevo.account_name = fake_mailchimp.account_name = "Renamed"
    assert brevo_client(fake_brevo).check_key() == provider.ProviderAccount(
        brevo_account.id, "Renamed"
    )
    assert mailchimp_client(fake_mailchimp).check_key() == provider.ProviderAccount(
        mailchimp_account.id, "Renamed"
    )
    fake_mailchimp.account_id = None
    with pytest.raises(MalformedAnswer) as malformed:
        mailchimp_client(fake_mailchimp).check_key()
    assert malformed.value.message == "unexpected answer: account without an id"


def test_a_brevo_account_without_organization_is_known_by_its_login(fake_brevo):
    # Brevo's older references document no organization id: such an answer
    # is not refused, its login address names the account.
    fake_brevo.organization_id = None
    assert brevo_client(fake_brevo).check_key() == provider.ProviderAccount(
        "shop@example.org", "La Coop du Coin"
    )


def test_brevo_without_override_reaches_only_public_addresses():
    # api.brevo.com made to resolve to loopback: refused at connect time.
    def loopback(host, port, type=0):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    client = brevo.BrevoClient("xkeysib-0123456789", getaddrinfo=loopback, **FAST)
    assert repr(client) == "<BrevoClient https://api.brevo.com/v3>"
    with pytest.raises(Unreachable) as refused:
        client.check_key()
    assert "refused address" in refused.value.message


def test_an_address_that_does_not_answer_is_unreachable():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client = brevo.BrevoClient(
        "xkeysib-0123456789", base_url=f"http://127.0.0.1:{port}/v3"
    )
    with pytest.raises(Unreachable) as refused:
        client.check_key()
    assert refused.value.code == "unreachable"


# Lists.


def test_lists_are_read_page_by_page(fake_brevo, fake_mailchimp):
    for n in range(60):
        fake_brevo.add_list(f"List {n}")
    found = brevo_client(fake_brevo).lists()
    assert [item.name for item in found] == [f"List {n}" for n in range(60)]
    assert len(fake_brevo.calls("GET", "/v3/contacts/lists")) == 2
    fake_mailchimp.add_list("Buyers")
    assert [(x.name, x.members) for x in mailchimp_client(fake_mailchimp).lists()] == [
        ("Buyers", 0)
    ]


# Brevo's contacts.


def test_brevo_imports_run_side_by_side_and_are_followed_to_their_end(fake_brevo):
    list_id = fake_brevo.add_list("Buyers")
    buyers = contacts(
        10001, first_name="Ana", order_count=3, last_order=date(2026, 11, 30)
    )
    brevo_client(fake_brevo).ensure_fields(list_id)
    result = brevo_client(fake_brevo).upsert_contacts(list_id, buyers)
    assert result.subscribed == 10001
    # Done when the call returns: every contact is in the list already.
    assert len(fake_brevo.members(list_id)) == 10001
    assert fake_brevo.contacts["buyer7@example.org"]["attributes"] == {
        "FIRSTNAME": "Ana",
        "COOP_ORDER_COUNT": 3,
        "COOP_LAST_ORDER": "2026-11-30",
    }
    imports = fake_brevo.calls("POST", "/v3/contacts/import")
    assert [len(i["body"]["jsonBody"]) for i in imports] == [10000, 1]
    assert all("emailBlacklist" not in i["body"] for i in imports)
    # Both imports started before the first was followed.
    paths = [request["path"] for request in fake_brevo.requests]
    first_follow = next(n for n, path in enumerate(paths) if "/processes/" in path)
    assert paths[:first_follow].count("/v3/contacts/import") == 2
    assert len(fake_brevo.calls("GET", r"/v3/processes/\d+")) >= 4


def test_brevo_imports_stay_under_their_size_limit(fake_brevo):
    list_id = fake_brevo.add_list("Buyers")
    shop = "Épicerie " + "x" * 2000  # 2 kB a contact
    brevo_client(fake_brevo).upsert_contacts(list_id, contacts(3000, shop=shop))
    imports = fake_brevo.calls("POST", "/v3/contacts/import")
    assert len(imports) == 2
    assert all(len(i["raw"]) < brevo.IMPORT_BYTES + 1000 for i in imports)
    assert len(fake_brevo.members(list_id)) == 3000


def test_brevo_attributes_the_account_lacks_are_created_once(fake_brevo):
    list_id = fake_brevo.add_list("Buyers")
    client = brevo_client(fake_brevo)
    # Without them, Brevo keeps no value of the co-op's own attributes.
    client.upsert_contacts(list_id, contacts(1, shop="Coop", order_count=2))
    assert "COOP_SHOP" not in fake_brevo.contacts["buyer0@example.org"]["attributes"]
    assert client.ensure_fields(list_id) == [
        "COOP_SHOP",
        "COOP_FIRST_ORDER",
        "COOP_LAST_ORDER",
        "COOP_ORDER_COUNT",
        "COOP_LAST_CYCLE",
    ]
    assert fake_brevo.attributes["COOP_LAST_ORDER"] == "date"
    assert fake_brevo.attributes["COOP_ORDER_COUNT"] == "float"
    assert client.ensure_fields(list_id) == []  # nothing twice
    client.upsert_contacts(list_id, contacts(1, shop="Coop", order_count=2))
    assert fake_brevo.contacts["buyer0@example.org"]["attributes"] == {
        "COOP_SHOP": "Coop",
        "COOP_ORDER_COUNT": 2,
    }


def test_brevo_opt_outs_go_in_an_import_of_their_own(fake_brevo):
    list_id = fake_brevo.add_list("Buyers")
    client = brevo_client(fake_brevo)
    result = client.upsert_contacts(
        list_id, contacts(3) + contacts(2, start=10, state=OPTED_OUT)
    )
    assert (result.subscribed, result.opted_out) == (3, 2)
    blacklisted = {e for e, c in fake_brevo.contacts.items() if c["blacklisted"]}
    assert blacklisted == {"buyer10@example.org", "buyer11@example.org"}
    imports = [i["body"] for i in fake_brevo.calls("POST", "/v3/contacts/import")]
    assert [(i.get("emailBlacklist"), len(i["jsonBody"])) for i in imports] == [
        (True, 2),
        (None, 3),
    ]


def test_brevo_never_clears_a_blacklist(fake_brevo):
    list_id = fake_brevo.add_list("Buyers")
    client = brevo_client(fake_brevo)
    client.upsert_contacts(list_id, contacts(1, state=OPTED_OUT))
    # Back in Odoo's good books, moved to a new address: still blacklisted
    # in Brevo, which only the contact can undo there.
    client.upsert_contacts(list_id, contacts(1))
    client.upsert_contacts(
        list_id, [Contact("new0@example.org", previous_email="buyer0@example.org")]
    )
    assert fake_brevo.contacts["buyer0@example.org"]["blacklisted"]
    assert list_id not in fake_brevo.contacts["buyer0@example.org"]["lists"]
    assert fake_brevo.members(list_id) == {"new0@example.org"}
    assert not fake_brevo.calls("PUT")  # no EMAIL update, which would clear it


def test_brevo_removals_go_150_at_a_time(fake_brevo):
    list_id = fake_brevo.add_list("Buyers")
    client = brevo_client(fake_brevo)
    client.upsert_contacts(list_id, contacts(400))
    result = client.upsert_contacts(list_id, contacts(400, state=REMOVED))
    assert result.removed == 400 and not fake_brevo.members(list_id)
    removals = fake_brevo.calls("POST", r"/v3/contacts/lists/\d+/contacts/remove")
    assert [len(r["body"]["emails"]) for r in removals] == [150, 150, 100]
    # Removing again (a sync repeated after a crash) is no error.
    client.upsert_contacts(list_id, contacts(2, state=REMOVED))


def test_brevo_unknown_list_is_a_readable_error(fake_brevo):
    with pytest.raises(ProviderError) as refused:
        brevo_client(fake_brevo).upsert_contacts(99, contacts(1))
    assert (refused.value.status, refused.value.message) == (
        404,
        "List ID does not exist: 99",
    )


def test_brevo_import_that_fails_is_a_readable_error(fake_brevo):
    fake_brevo.import_outcome = "failed"
    list_id = fake_brevo.add_list("Buyers")
    with pytest.raises(ProviderError) as failed:
        brevo_client(fake_brevo).upsert_contacts(list_id, contacts(1))
    assert failed.value.message.endswith(" failed")
    assert not fake_brevo.members(list_id)


def test_brevo_import_that_never_ends_is_given_up_at_its_deadline(fake_brevo):
    fake_brevo.import_delay = 30
    list_id = fake_brevo.add_list("Buyers")
    started = time.monotonic()
    with pytest.raises(ProviderError) as late:
        brevo_client(fake_brevo, follow_deadline=0.5).upsert_contacts(
            list_id, contacts(1)
        )
    assert "did not finish within 0.5 s" in late.value.message
    assert time.monotonic() - started < 2


def test_brevo_a_long_import_costs_a_few_polls(fake_brevo):
    # Polls share Brevo's 100 requests an hour outside /contacts: an import
    # of a few seconds must not use a tenth of them.
    fake_brevo.import_delay = 1.6
    list_id = fake_brevo.add_list("Buyers")
    brevo_client(fake_brevo).upsert_contacts(list_id, contacts(10))
    assert fake_brevo.members(list_id)
    polls = fake_brevo.calls("GET", r"/v3/processes/\d+")
    # Waits of 0.05, 0.1, 0.2, 0.4, 0.8, 1.6 s: done at the 6th poll at most.
    assert 2 <= len(polls) <= 6


def test_brevo_published_rate_limits_are_waited_out_not_broken():
    with FakeBrevo(
        import_delay=0.1, rate_limits=FakeBrevo.published_rate_limits
    ) as fake:
        list_id = fake.add_list("Buyers")
        client = brevo_client(fake)
        client.upsert_contacts(list_id, contacts(10))
        started = time.monotonic()
        # 2 000 removals: 14 requests under /contacts, over its 10 a second.
        client.upsert_contacts(list_id, contacts(2000, state=REMOVED))
        elapsed = time.monotonic() - started
    refused = sum(quota.refused for quota in fake.quotas)
    assert refused >= 1
    # Only the polls count in the 100 an hour of the endpoints outside /contacts.
    outside_contacts = fake.quotas[-1]
    assert len(outside_contacts.sent) == len(fake.calls("GET", r"/v3/processes/\d+"))
    assert 0.5 < elapsed < 5
    assert len(fake.calls("POST", r"/v3/contacts/lists/\d+/contacts/remove")) == (
        14 + refused
    )


# Mailchimp's members.


def test_mailchimp_new_members_go_500_at_a_time(fake_mailchimp):
    list_id = audience(fake_mailchimp)
    client = mailchimp_client(fake_mailchimp)
    result = client.upsert_contacts(list_id, contacts(1200, last_name="Diallo"))
    assert result.subscribed == 1200 and not result.rejected
    batches = fake_mailchimp.calls("POST", f"/3.0/lists/{list_id}")
    assert [len(b["body"]["members"]) for b in batches] == [500, 500, 200]
    assert all(b["body"]["update_existing"] is False for b in batches)
    assert not fake_mailchimp.calls("PUT")
    assert fake_mailchimp.members[list_id]["buyer3@example.org"] == {
        "status": "subscribed",
        "merge_fields": {"LNAME": "Diallo", "ORDERS": 0},
        "archived": False,
    }
    assert fake_mailchimp.peak_in_flight == 1


def test_mailchimp_merge_fields_the_audience_lacks_are_created_once(fake_mailchimp):
    # The co-op deleted PHONE and made ORDERS a text field of its own.
    list_id = fake_mailchimp.add_list(
        "Buyers",
        {"FNAME": ("First Name", "text"), "ORDERS": ("Orders", "text")},
    )
    client = mailchimp_client(fake_mailchimp)
    created = client.ensure_fields(list_id)
    assert created == ["LNAME", "PHONE", "SHOP", "FIRSTORDER", "LASTORDER", "LASTCYCLE"]
    fields = fake_mailchimp.merge_fields[list_id]
    assert fields["ORDERS"]["type"] == "text"  # the co-op's own, left alone
    assert (fields["PHONE"]["type"], fields["PHONE"]["options"]) == (
        "phone",
        {"phone_format": "International"},
    )
    assert (fields["LASTORDER"]["type"], fields["LASTORDER"]["options"]) == (
        "date",
        {"date_format": "YYYY-MM-DD"},
    )
    assert client.ensure_fields(list_id) == []  # nothing twice
    assert len(fake_mailchimp.calls("POST", f"/3.0/lists/{list_id}/merge-fields")) == 6
    client.upsert_contacts(
        list_id,
        contacts(
            1,
            phone="+33612345678",
            shop="Coop",
            first_order=date(2026, 1, 2),
            order_count=3,
            last_cycle="Week 1",
        ),
    )
    assert fake_mailchimp.members[list_id]["buyer0@example.org"]["merge_fields"] == {
        "PHONE": "+33612345678",
        "SHOP": "Coop",
        "FIRSTORDER": "2026-01-02",
        "ORDERS": 3,
        "LASTCYCLE": "Week 1",
    }


def test_mailchimp_a_full_audience_is_a_readable_error(fake_mailchimp):
    list_id = fake_mailchimp.add_list(
        "Buyers", {f"F{n}": (f"Field {n}", "text") for n in range(30)}
    )
    with pytest.raises(ProviderError) as full:
        mailchimp_client(fake_mailchimp).ensure_fields(list_id)
    assert full.value.status == 400
    assert "maximum of 30 merge fields" in full.value.message


def test_the_mailchimp_fake_refuses_members_with_fields_the_audience_lacks():
    with pytest.raises(AssertionError, match="SHOP is not in the audience"):
        with FakeMailchimp() as fake:
            list_id = fake.add_list("Buyers")
            with pytest.raises(ProviderError, match="merge fields were invalid"):
                mailchimp_client(fake).upsert_contacts(
                    list_id, contacts(1, shop="Coop")
                )


def test_mailchimp_never_resubscribes_who_unsubscribed_there(fake_mailchimp):
    list_id = audience(fake_mailchimp)
    client = mailchimp_client(fake_mailchimp)
    client.upsert_contacts(list_id, contacts(2))
    # buyer0 unsubscribes in Mailchimp (its own form, say).
    fake_mailchimp.members[list_id]["buyer0@example.org"]["status"] = "unsubscribed"
    client.upsert_contacts(list_id, contacts(2, first_name="Léa"))
    assert fake_mailchimp.status(list_id, "buyer0@example.org") == "unsubscribed"
    assert fake_mailchimp.status(list_id, "buyer1@example.org") == "subscribed"
    member = fake_mailchimp.members[list_id]["buyer0@example.org"]
    assert member["merge_fields"]["FNAME"] == "Léa"  # its fields still updated
    puts = fake_mailchimp.calls("PUT")
    assert len(puts) == 2
    assert all("status" not in p["body"] and p["body"]["status_if_new"] for p in puts)


def test_mailchimp_opt_outs_unsubscribe_and_removals_archive(fake_mailchimp):
    list_id = audience(fake_mailchimp)
    client = mailchimp_client(fake_mailchimp)
    client.upsert_contacts(list_id, contacts(3))
    result = client.upsert_contacts(
        list_id,
        [
            Contact("buyer0@example.org", state=OPTED_OUT),
            Contact("buyer1@example.org", state=REMOVED),
            Contact("new2@example.org", previous_email="buyer2@example.org"),
        ],
    )
    assert (result.opted_out, result.removed, result.moved) == (1, 1, 1)
    assert {
        e: fake_mailchimp.status(list_id, e) for e in fake_mailchimp.members[list_id]
    } == {
        "buyer0@example.org": "unsubscribed",
        "buyer1@example.org": "archived",
        "buyer2@example.org": "archived",
        "new2@example.org": "subscribed",
    }
    # Repeated after a crash: nothing left to archive is no error.
    client.upsert_contacts(list_id, [Contact("buyer1@example.org", state=REMOVED)])


def test_mailchimp_rejected_members_are_reported_not_lost(fake_mailchimp):
    list_id = audience(fake_mailchimp)
    fake_mailchimp.reject = {"buyer1@example.org"}
    result = mailchimp_client(fake_mailchimp).upsert_contacts(list_id, contacts(3))
    assert result.rejected == [
        ("buyer1@example.org", "buyer1@example.org looks fake or invalid")
    ]
    assert set(fake_mailchimp.members[list_id]) == {
        "buyer0@example.org",
        "buyer2@example.org",
    }


def test_mailchimp_one_address_requests_share_a_few_connections():
    with FakeMailchimp(latency=0.05) as fake:
        list_id = audience(fake)
        client = mailchimp_client(fake)  # 4 connections by default
        client.upsert_contacts(list_id, contacts(40))
        fake.peak_in_flight = 0
        started = time.monotonic()
        client.upsert_contacts(list_id, contacts(40, first_name="Léa"))
        elapsed = time.monotonic() - started
        assert len(fake.calls("PUT")) == 40
        assert 2 <= fake.peak_in_flight <= 4
        assert elapsed < 40 * 0.05 * 0.75  # one at a time: 2 s at least
        assert {m["merge_fields"]["FNAME"] for m in fake.members[list_id].values()} == {
            "Léa"
        }
    with pytest.raises(ValueError):
        mailchimp.MailchimpClient("0123456789abcdef-us21", connections=11)
    with pytest.raises(ValueError):
        brevo.BrevoClient("xkeysib-0123456789", connections=2)


def test_mailchimp_many_member_updates_go_as_one_batch_operation(fake_mailchimp):
    list_id = audience(fake_mailchimp)
    client = mailchimp_client(fake_mailchimp, poll_interval=0.05)
    client.upsert_contacts(list_id, contacts(300))
    # buyer0 unsubscribes in Mailchimp, buyer1 was cleaned (it bounced).
    fake_mailchimp.members[list_id]["buyer0@example.org"]["status"] = "unsubscribed"
    fake_mailchimp.members[list_id]["buyer1@example.org"]["status"] = "cleaned"
    result = client.upsert_contacts(list_id, contacts(300, first_name="Léa"))
    assert result.subscribed == 300 and not result.rejected
    assert not fake_mailchimp.calls("PUT")  # none one by one
    (started,) = fake_mailchimp.calls("POST", "/3.0/batches")
    operations = started["body"]["operations"]
    assert len(operations) == 300
    bodies = [json.loads(operation["body"]) for operation in operations]
    assert {operation["method"] for operation in operations} == {"PUT"}
    assert all("status" not in b and b["status_if_new"] == "subscribed" for b in bodies)
    assert operations[0]["path"] == (
        f"/lists/{list_id}/members/{mailchimp.subscriber_hash('buyer0@example.org')}"
    )
    statuses = {
        e: fake_mailchimp.status(list_id, e) for e in fake_mailchimp.members[list_id]
    }
    assert statuses.pop("buyer0@example.org") == "unsubscribed"
    assert statuses.pop("buyer1@example.org") == "cleaned"
    assert set(statuses.values()) == {"subscribed"}
    members = fake_mailchimp.members[list_id].values()
    assert {member["merge_fields"]["FNAME"] for member in members} == {"Léa"}
    # Followed to its end on Mailchimp's API host, its answers never fetched.
    polls = fake_mailchimp.calls("GET", r"/3.0/batches/\w+")
    assert 1 <= len(polls) <= 5
    assert all(r["path"].startswith("/3.0/") for r in fake_mailchimp.requests)


def test_mailchimp_many_archives_go_as_one_batch_and_gone_ones_directly(
    fake_mailchimp,
):
    list_id = audience(fake_mailchimp)
    client = mailchimp_client(fake_mailchimp, poll_interval=0.05)
    client.upsert_contacts(list_id, contacts(150))
    result = client.upsert_contacts(list_id, contacts(150, state=REMOVED))
    assert result.removed == 150
    assert len(fake_mailchimp.calls("POST", "/3.0/batches")) == 1
    assert not fake_mailchimp.calls("DELETE")
    assert {
        fake_mailchimp.status(list_id, e) for e in fake_mailchimp.members[list_id]
    } == {"archived"}
    # Again (a job repeated after a crash): every archive of the batch
    # errors (404), so they are done again directly, where 404 is no error.
    client.upsert_contacts(list_id, contacts(150, state=REMOVED))
    batches = fake_mailchimp.calls("POST", "/3.0/batches")
    assert len(batches) == 2
    (second,) = [b for b in fake_mailchimp.batches.values()][1:]
    assert {status for _operation, status in second["results"]} == {404}
    assert len(fake_mailchimp.calls("DELETE")) == 150


def test_mailchimp_a_batch_with_an_errored_operation_is_done_again_directly(
    fake_mailchimp,
):
    list_id = audience(fake_mailchimp)
    client = mailchimp_client(fake_mailchimp, poll_interval=0.05)
    client.upsert_contacts(list_id, contacts(200, first_name="Léa"))
    # The co-op made the first name required; buyer7's is blank now.
    fake_mailchimp.merge_fields[list_id]["FNAME"]["required"] = True
    members = contacts(200, first_name="Zoé")
    members[7] = Contact("buyer7@example.org")
    fake_mailchimp.members[list_id]["buyer7@example.org"]["merge_fields"].pop("FNAME")
    with pytest.raises(ProviderError) as refused:
        client.upsert_contacts(list_id, members)
    # The member and the reason, as a direct update tells them.
    assert refused.value.status == 400
    assert refused.value.message == (
        "Your merge fields were invalid. (FNAME: Please enter a value)"
    )
    # Stopped at the first refused, as the direct path does.
    sent = [put["body"]["email_address"] for put in fake_mailchimp.calls("PUT")]
    assert "buyer7@example.org" in sent and len(sent) < 8 + 2 * client.connections
    (batch,) = fake_mailchimp.batches.values()
    assert [status for _operation, status in batch["results"]].count(400) == 1
    # The others were updated by the batch, statuses untouched.
    assert fake_mailchimp.members[list_id]["buyer8@example.org"] == {
        "status": "subscribed",
        "merge_fields": {"FNAME": "Zoé", "ORDERS": 0},
        "archived": False,
    }


def test_mailchimp_a_batch_that_never_finishes_is_given_up_at_its_deadline():
    with FakeMailchimp(batch_delay=30) as fake:
        list_id = audience(fake)
        client = mailchimp_client(fake, poll_interval=0.05, follow_deadline=0.5)
        client.upsert_contacts(list_id, contacts(120))
        started = time.monotonic()
        with pytest.raises(ProviderError) as late:
            client.upsert_contacts(list_id, contacts(120, first_name="Léa"))
        assert time.monotonic() - started < 2
        (batch_id,) = fake.batches
        assert late.value.message == (
            f"the batch operation {batch_id} did not finish within 0.5 s"
        )
        assert fake.calls("GET", rf"/3.0/batches/{batch_id}")
        assert not fake.calls("PUT")
        assert (
            "FNAME" not in fake.members[list_id]["buyer0@example.org"]["merge_fields"]
        )


def test_mailchimp_pending_batches_past_the_limit_are_a_rate_limit(monkeypatch):
    # Mailchimp keeps 500 batches pending per account; the next is refused.
    monkeypatch.setattr(fakes_mailchimp, "MAX_PENDING_BATCHES", 2)
    with FakeMailchimp(batch_delay=30) as fake:
        list_id = audience(fake)
        client = mailchimp_client(fake, max_rate_limit_wait=0)
        operations = update_operations(list_id, contacts(1))
        client._start_batch(operations)
        client._start_batch(operations)
        with pytest.raises(RateLimited) as refused:
            client._start_batch(operations)
        assert refused.value.status == 429
        assert len(fake.batches) == 2


def update_operations(list_id, members):
    operations = []
    for contact in members:
        method, path, body = mailchimp._update_request(list_id, contact)
        operations.append({"method": method, "path": path, "body": json.dumps(body)})
    return operations


def test_the_mailchimp_fake_runs_batches_in_order_with_their_steps():
    steps = ["pending", "preprocessing", "started", "finalizing", "finished"]
    with FakeMailchimp(batch_delay=1.0) as fake:
        list_id = audience(fake)
        client = mailchimp_client(fake)
        client.upsert_contacts(list_id, contacts(2))
        first = client._start_batch(
            update_operations(list_id, contacts(2, first_name="Léa"))
        )
        second = client._start_batch(
            update_operations(list_id, contacts(2, first_name="Zoé"))
        )
        seen = []
        while not seen or seen[-1] != "finished":
            status = client._call("GET", f"/batches/{second}")
            if not seen or seen[-1] != status["status"]:
                seen.append(status["status"])
            time.sleep(0.02)
        # Mailchimp's steps, in their order (a busy machine may miss some).
        assert seen == sorted(seen, key=steps.index) and len(seen) >= 3
        # Run one after the other, in the order received.
        assert fake.batches[first]["status"] == "finished"
        member = fake.members[list_id]["buyer0@example.org"]
        assert member["merge_fields"]["FNAME"] == "Zoé"
        assert status["total_operations"] == status["finished_operations"] == 2
        assert status["errored_operations"] == 0
        assert not status["response_body_url"].startswith(fake.url)
    # A body not sent as a JSON string is outside the contract.
    with pytest.raises(AssertionError, match="not a list of"):
        with FakeMailchimp() as fake:
            with pytest.raises(ProviderError):
                mailchimp_client(fake)._start_batch(
                    [{"method": "PUT", "path": "/lists/x", "body": {"a": 1}}]
                )


def test_a_provider_going_down_mid_sync_stops_the_other_requests(fake_mailchimp):
    list_id = audience(fake_mailchimp)
    client = mailchimp_client(fake_mailchimp)
    client.upsert_contacts(list_id, contacts(40))
    fake_mailchimp.down_after = 6  # the batch and 5 updates
    with pytest.raises(ProviderError) as down:
        client.upsert_contacts(list_id, contacts(40, first_name="Léa"))
    assert (down.value.status, down.value.message) == (503, "Service Unavailable")
    # The updates not started when the first failed were not sent.
    assert len(fake_mailchimp.calls("PUT")) < 5 + 2 * client.connections
    fake_mailchimp.down_after = None
    client.upsert_contacts(list_id, contacts(40, first_name="Léa"))  # resumed


# Rate limits.


def test_brevo_429_waits_for_the_announced_reset_then_resumes(fake_brevo, caplog):
    list_id = fake_brevo.add_list("Buyers")
    fake_brevo.throttle(2, reset=0.3)
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    brevo_client(fake_brevo).upsert_contacts(list_id, contacts(2))
    assert time.monotonic() - started >= 0.6
    assert len(fake_brevo.members(list_id)) == 2
    assert "waiting 0.3 s" in caplog.text and fake_brevo.key not in caplog.text
    # The fake records any request sent before the reset: none here.


def test_rate_limit_headers_are_read_whatever_their_case(fake_brevo):
    fake_brevo.limit_headers = lambda reset: {"X-Sib-RateLimit-Reset": f"{reset:g}"}
    fake_brevo.throttle(1, reset=0.2)
    client = brevo_client(fake_brevo)
    client.fallback_waits = (5,)  # what a reset not read would wait
    started = time.monotonic()
    assert client.check_key().name == "La Coop du Coin"
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("reset", ["nan", "-inf", "soon"])
def test_an_unreadable_reset_falls_back_to_waits_of_our_own(fake_brevo, reset):
    fake_brevo.limit_headers = lambda _seconds: {"x-sib-ratelimit-reset": reset}
    fake_brevo.throttle(1, reset=0)  # no window of its own to honour
    client = brevo_client(fake_brevo)
    client.fallback_waits = (0.05,)
    assert client.check_key().name == "La Coop du Coin"
    assert client.calls == 2


def test_a_rate_limit_longer_than_allowed_is_reported_with_its_reset(fake_brevo):
    fake_brevo.throttle(1, reset=90)
    with pytest.raises(RateLimited) as limited:
        brevo_client(fake_brevo, max_rate_limit_wait=60).check_key()
    assert limited.value.reset == 90 and limited.value.code == "rate_limited"
    fake_brevo.violations.clear()  # the fake's window is left unused


def test_a_wait_is_logged_without_the_address_behind_a_member_hash(
    fake_mailchimp, caplog
):
    list_id = audience(fake_mailchimp)
    client = mailchimp_client(fake_mailchimp)
    client.fallback_waits = (0.05,)
    client.upsert_contacts(list_id, contacts(1))
    fake_mailchimp.throttle(1)
    caplog.set_level(logging.INFO)
    client.upsert_contacts(list_id, contacts(1, state=REMOVED))
    assert fake_mailchimp.status(list_id, "buyer0@example.org") == "archived"
    assert f"DELETE /lists/{list_id}/members/…" in caplog.text
    assert mailchimp.subscriber_hash("buyer0@example.org") not in caplog.text


def test_mailchimp_429_without_headers_backs_off_then_resumes(fake_mailchimp):
    fake_mailchimp.throttle(3)
    client = mailchimp_client(fake_mailchimp)
    client.fallback_waits = (0.05, 0.1)
    assert client.check_key().name == "La Coop du Coin"
    assert client.calls == 5


# Webhooks.


class Validator:
    """Answers Mailchimp's GET check of a webhook URL."""

    def __init__(self, status):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/t0k3n"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_brevo_webhook_for_unsubscribes_registered_and_removed(fake_brevo):
    client = brevo_client(fake_brevo)
    webhook_id = client.register_webhook(1, "https://shop.example.org/hook/t0k3n")
    assert fake_brevo.webhooks[int(webhook_id)]["events"] == ["unsubscribed"]
    assert fake_brevo.webhooks[int(webhook_id)]["type"] == "marketing"
    client.unregister_webhook(1, webhook_id)
    client.unregister_webhook(1, webhook_id)  # gone already: no error
    assert not fake_brevo.webhooks


def test_mailchimp_webhook_needs_a_url_that_answers_its_check(fake_mailchimp):
    list_id = audience(fake_mailchimp)
    client = mailchimp_client(fake_mailchimp)
    good, bad = Validator(200), Validator(404)
    try:
        webhook_id = client.register_webhook(list_id, good.url)
        with pytest.raises(ProviderError) as refused:
            client.register_webhook(list_id, bad.url)
    finally:
        good.close()
        bad.close()
    webhook = fake_mailchimp.webhooks[webhook_id]
    assert webhook["events"] == {"unsubscribe": True, "cleaned": True}
    assert webhook["sources"]["api"] is False  # our own opt-outs do not echo back
    assert "could not be validated" in refused.value.message
    client.unregister_webhook(list_id, webhook_id)
    client.unregister_webhook(list_id, webhook_id)
    assert not fake_mailchimp.webhooks


# Hostile answers.


@pytest.mark.parametrize(
    ("mode", "error", "words"),
    [
        ("html", ProviderError, "HTTP 502 with an unreadable body (text/html)"),
        ("malformed", MalformedAnswer, "not JSON"),
        ("huge", MalformedAnswer, "larger than"),
        ("gzip", MalformedAnswer, "encoded as 'gzip'"),
    ],
)
def test_hostile_answers_are_readable_errors(
    fake_brevo, fake_mailchimp, mode, error, words
):
    for fake, client in (
        (fake_brevo, brevo_client(fake_brevo)),
        (fake_mailchimp, mailchimp_client(fake_mailchimp)),
    ):
        fake.hostile = mode
        with pytest.raises(error) as broken:
            client.lists()
        assert words in broken.value.message
        fake.hostile = None
        assert client.lists() == []  # the client goes on


def test_an_answer_sent_a_byte_at_a_time_ends_at_the_deadline(fake_brevo):
    fake_brevo.hostile = "drip"
    started = time.monotonic()
    with pytest.raises(TimedOut):
        brevo_client(fake_brevo, total_timeout=1).check_key()
    assert time.monotonic() - started < 2


def test_a_slow_provider_ends_at_the_deadline_then_answers_again(fake_mailchimp):
    client = mailchimp_client(fake_mailchimp, total_timeout=0.5)
    fake_mailchimp.latency = 2
    with pytest.raises(TimedOut) as slow:
        client.check_key()
    assert slow.value.message == "no whole answer within 0.5 s"
    fake_mailchimp.latency = 0
    assert client.check_key().name == "La Coop du Coin"


def test_a_key_echoed_by_the_provider_is_scrubbed(fake_brevo):
    fake_brevo.error = lambda status, message: {
        "code": "x",
        "message": f"{message} for {fake_brevo.key}",
    }
    with pytest.raises(ProviderError) as refused:
        brevo_client(fake_brevo).upsert_contacts(42, contacts(1))
    assert fake_brevo.key not in str(refused.value)
    assert refused.value.message.endswith("for [key]")


def test_a_key_echoed_anywhere_in_an_answer_is_never_read(fake_brevo, fake_mailchimp):
    """Not only in errors: an account's name, a campaign's status or title
    that holds the key reads [key] (they end in records, emails and logs)."""
    fake_brevo.account_name = f"Coop {fake_brevo.key}"
    assert brevo_client(fake_brevo).check_key().name == "Coop [key]"
    key = fake_mailchimp.key
    list_id = fake_mailchimp.add_list("Buyers")
    campaign_id = fake_mailchimp.add_campaign(list_id, f"News {key}", "<p>Hi</p>")
    fake_mailchimp.campaigns[campaign_id]["status"] = key
    found = mailchimp_client(fake_mailchimp).campaign(campaign_id)
    assert (found.name, found.provider_status) == ("News [key]", "[key]")


# The fakes hold the tests to the contract.


def test_the_fakes_fail_the_test_on_requests_outside_the_contract():
    with pytest.raises(
        AssertionError, match="outside the provider's contract"
    ) as failed:
        with FakeMailchimp() as fake:
            list_id = fake.add_list("Buyers")
            auth = ("x", fake.key)
            requests.get(
                f"{fake.url}/lists", headers={"Authorization": f"Bearer {fake.key}"}
            )
            requests.post(
                f"{fake.url}/lists/{list_id}",
                json={
                    "members": [
                        {
                            "email_address": "a@example.org",
                            "status": "subscribed",
                            "status_if_new": "subscribed",
                        }
                    ]
                },
                auth=auth,
            )
            members = [
                {"email_address": f"{n}@example.org", "status": "subscribed"}
                for n in range(501)
            ]
            requests.post(
                f"{fake.url}/lists/{list_id}", json={"members": members}, auth=auth
            )
            requests.get(f"{fake.url}/automations", auth=auth)
            requests.get(
                f"{fake.url}/", params={"fields": "account_id,plan"}, auth=auth
            )
    text = str(failed.value)
    for violation in (
        "not HTTP Basic",
        "status_if_new",
        "501 members",
        "no such endpoint",
        "fields outside the API root: ['plan']",
    ):
        assert violation in text
    with pytest.raises(AssertionError, match="announced rate-limit reset"):
        with FakeBrevo() as fake:
            fake.throttle(1, reset=5)
            for _ in range(2):
                requests.get(f"{fake.url}/account", headers={"api-key": fake.key})
    # Over a published quota (100 an hour outside /contacts), then once more.
    with pytest.raises(AssertionError, match="announced rate-limit reset"):
        with FakeBrevo(rate_limits=FakeBrevo.published_rate_limits) as fake:
            answers = [
                requests.get(f"{fake.url}/account", headers={"api-key": fake.key})
                for _ in range(102)
            ]
            assert [a.status_code for a in answers[99:]] == [200, 429, 429]
            assert 3500 < float(answers[100].headers["x-sib-ratelimit-reset"]) <= 3600
    with pytest.raises(AssertionError) as failed:
        with FakeBrevo() as fake:
            requests.get(f"{fake.url}/account", headers={"Authorization": fake.key})
            requests.post(
                f"{fake.url}/contacts/lists/1/contacts/remove",
                json={"emails": [f"{n}@example.org" for n in range(151)]},
                headers={"api-key": fake.key},
            )
    assert "Authorization, not the api-key header" in str(failed.value)
    assert "151 addresses" in str(failed.value)
