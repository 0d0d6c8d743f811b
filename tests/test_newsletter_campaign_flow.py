"""The newsletter at each sale cycle event, against a running Odoo whose
server configuration points the Brevo and Mailchimp clients at the fakes
(never at the real providers): the cron opens a cycle, queue_job's runner
makes the campaign; a close cancels it; concurrent opens make one; a server
killed between the creation and the send finishes it once after a restart.

Everything is observed from outside: the fakes' state and the records read
over XML-RPC.
"""

import signal
import threading
import time
import xmlrpc.client
from datetime import datetime, timedelta

import pytest
from conftest import served
from fakes.brevo import FakeBrevo
from fakes.mailchimp import FakeMailchimp
from harness import ADDON, ADMIN, Rpc, create_developer, cycle_values, wait_for

CRON = f"{ADDON}.ir_cron_process_due_sale_cycles"


@pytest.fixture(scope="module")
def fakes():
    with FakeBrevo(import_delay=0) as brevo, FakeMailchimp() as mailchimp:
        yield brevo, mailchimp


@pytest.fixture(scope="module")
def server(odoo_env, fakes):
    """A server of its own: the fakes' addresses are server configuration."""
    brevo, mailchimp = fakes
    with served(
        odoo_env,
        "coop_campaign",
        coop_newsletter_brevo_url=brevo.url,
        coop_newsletter_mailchimp_url=mailchimp.url,
    ) as running:
        yield running
    log = running.log_path.read_text(errors="replace")
    assert brevo.key not in log and mailchimp.key not in log, "a key in the log"


@pytest.fixture(scope="module")
def users(server):
    admin = Rpc(server, *ADMIN)
    developer_id = create_developer(admin, "newsletter-volunteer", "Volunteer")
    admin("res.users", "write", [developer_id], {"lang": "en_US"})
    developer = Rpc(server, "newsletter-volunteer", "newsletter-volunteer-pw")
    [user] = admin("res.users", "read", [developer_id], ["company_id"])
    return admin, developer, user["company_id"][0]


def connect(developer, company_id, provider, fake, fake_list):
    connection_id = developer(
        "coop.newsletter.connection", "coop_connect", provider, fake.key, company_id
    )["id"]
    developer(
        "coop.newsletter.connection", "action_set_list", [connection_id], str(fake_list)
    )
    return connection_id


def brevo_newsletter(developer, company_id, brevo, list_name, event_type, delay):
    """A Brevo connection to a new list, with a newsletter at event_type."""
    fake_list = brevo.add_list(list_name)
    brevo_template = brevo.add_template(f"Weekly {event_type}")
    sender = brevo.add_sender("La Coop", "news@example.org")
    connection_id = connect(developer, company_id, "brevo", brevo, fake_list)
    developer(
        "coop.newsletter.connection",
        "action_set_newsletter",
        [connection_id],
        event_type,
        str(brevo_template),
        sender_id=str(sender),
        delay_minutes=delay,
    )
    return connection_id, fake_list, brevo_template, sender


def campaigns(admin, connection_id):
    return admin(
        "coop.newsletter.campaign",
        "search_read",
        [("connection_id", "=", connection_id)],
        fields=[
            "state",
            "sale_cycle_id",
            "send_at",
            "scheduled_at",
            "provider_campaign_id",
            "cancel_reason",
            "last_error",
        ],
    )


def stop_newsletters(developer, connection_id):
    developer("coop.newsletter.connection", "action_disconnect", [connection_id])


def parse(text):
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def test_opened_then_closed_brevo(server, fakes, users):
    """The cron opens the cycle: one campaign at Brevo, for the list, with
    the template, the cycle's parameters and the time; closed before the
    send: suspended at Brevo, the reason on the record."""
    brevo, _mailchimp = fakes
    admin, developer, company_id = users
    connection_id, fake_list, brevo_template, sender = brevo_newsletter(
        developer, company_id, brevo, "Buyers", "sale_cycle.opened", delay=30
    )
    cycle_id = admin(
        "coop.sale.cycle",
        "create",
        {
            **cycle_values("Newsletter week", opens_in=-timedelta(minutes=1)),
            "description": "<p>Apples &amp; pears</p>",
            "shop_url": "https://shop.example.org/week",
        },
    )
    admin("coop.sale.cycle", "action_schedule", [cycle_id])
    server.run_cron_now(admin, CRON)
    [record] = wait_for(
        lambda: [
            c for c in campaigns(admin, connection_id) if c["state"] == "scheduled"
        ],
        timeout=120,
        what="the campaign scheduled",
    )
    time.sleep(2)  # a second campaign would be made now
    assert len(brevo.campaigns) == 1, brevo.campaigns
    [(campaign_id, made)] = brevo.campaigns.items()
    body = made["body"]
    assert body["recipients"] == {"listIds": [fake_list]}
    assert (body["templateId"], body["sender"]) == (brevo_template, {"id": sender})
    assert body["params"]["COOP_CYCLE_NAME"] == "Newsletter week"
    assert body["params"]["COOP_CYCLE_DESCRIPTION"] == "Apples & pears"
    assert body["params"]["COOP_SHOP_URL"] == "https://shop.example.org/week"
    [cycle] = admin("coop.sale.cycle", "read", [cycle_id], ["opened_at"])
    expected = parse(cycle["opened_at"]) + timedelta(minutes=30)
    assert abs(made["scheduledAt"] - expected) <= timedelta(seconds=1)
    assert record["provider_campaign_id"] == str(campaign_id)
    # The list was synced before the campaign was made.
    order = [(r["method"], r["path"]) for r in brevo.requests]
    assert order.index(("POST", "/v3/contacts/import")) < order.index(
        ("POST", "/v3/emailCampaigns")
    )

    admin("coop.sale.cycle", "action_close", [cycle_id])
    [record] = wait_for(
        lambda: [
            c for c in campaigns(admin, connection_id) if c["state"] == "cancelled"
        ],
        timeout=120,
        what="the campaign cancelled",
    )
    assert record["cancel_reason"] == "The sale cycle closed before it was sent."
    assert made["status"] == "suspended" and brevo.sends == []
    stop_newsletters(developer, connection_id)


def test_concurrent_opens_and_a_server_killed_before_the_send(server, fakes, users):
    """Mailchimp, sent at once (delay 0): two users and the cron open the
    cycle at the same moment (one newsletter); the server is killed while
    Mailchimp answers the creation; after the restart it is sent, once."""
    _brevo, mailchimp = fakes
    admin, developer, company_id = users
    fake_list = mailchimp.add_list("Buyers")
    chimp_template = mailchimp.add_template("Weekly", ["coop_cycle_name"])
    connection_id = connect(developer, company_id, "mailchimp", mailchimp, fake_list)
    developer(
        "coop.newsletter.connection",
        "action_set_newsletter",
        [connection_id],
        "sale_cycle.opened",
        str(chimp_template),
        subject="Open!",
        delay_minutes=0,
    )
    mailchimp.slow_create = 8  # the kill comes while this answer waits
    cycle_id = admin(
        "coop.sale.cycle", "create", cycle_values("Killed week", -timedelta(seconds=5))
    )
    admin("coop.sale.cycle", "action_schedule", [cycle_id])
    barrier = threading.Barrier(3)
    outcomes = []

    def open_it(login, password):
        rpc = Rpc(server, login, password)
        barrier.wait()
        try:
            rpc("coop.sale.cycle", "action_open", [cycle_id])
            outcomes.append("opened")
        except xmlrpc.client.Fault as fault:
            outcomes.append(fault.faultString.splitlines()[-1][:120])

    def cron():
        barrier.wait()
        server.run_cron_now(admin, CRON)

    threads = [
        threading.Thread(target=open_it, args=ADMIN),
        threading.Thread(target=open_it, args=ADMIN),
        threading.Thread(target=cron),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes.count("opened") <= 1, outcomes
    wait_for(
        lambda: mailchimp.calls("POST", "/3.0/campaigns"),
        timeout=120,
        what="the campaign's creation at Mailchimp",
    )
    server.stop(signal.SIGKILL)
    mailchimp.slow_create = 0
    server.start()
    admin = Rpc(server, *ADMIN)
    developer = Rpc(server, developer.login, developer.password)
    [record] = wait_for(
        lambda: [c for c in campaigns(admin, connection_id) if c["state"] == "sent"],
        timeout=180,
        what="the campaign sent after the restart",
    )
    time.sleep(2)
    assert len(campaigns(admin, connection_id)) == 1
    assert len(mailchimp.calls("POST", "/3.0/campaigns")) == 1, "created once"
    [made] = mailchimp.campaigns.values()
    assert mailchimp.sends == [made["id"]], "sent once"
    assert record["provider_campaign_id"] == made["id"]
    sections = made["content"]["template"]["sections"]
    assert sections["coop_cycle_name"] == "Killed week"
    stop_newsletters(developer, connection_id)


def test_a_creation_that_times_out_is_found_not_made_again(server, fakes, users):
    """Brevo makes the campaign but answers after the client's deadline
    (30 s): the next try finds it by its key; one campaign, scheduled."""
    brevo, _mailchimp = fakes
    admin, developer, company_id = users
    connection_id, fake_list, _template, _sender = brevo_newsletter(
        developer, company_id, brevo, "Buyers (slow)", "sale_cycle.closed", delay=60
    )
    before = len(brevo.calls("POST", "/v3/emailCampaigns"))
    brevo.slow_create = 32
    cycle_id = admin("coop.sale.cycle", "create", cycle_values("Slow week"))
    admin("coop.sale.cycle", "action_open", [cycle_id])
    admin("coop.sale.cycle", "action_close", [cycle_id])
    [record] = wait_for(
        lambda: [c for c in campaigns(admin, connection_id) if c["last_error"]],
        timeout=120,
        what="the creation timing out",
    )
    assert record["state"] == "pending"
    brevo.slow_create = 0
    [record] = wait_for(
        lambda: [
            c for c in campaigns(admin, connection_id) if c["state"] == "scheduled"
        ],
        timeout=180,
        what="the campaign found and scheduled",
    )
    assert len(brevo.calls("POST", "/v3/emailCampaigns")) == before + 1
    mine = [
        campaign_id
        for campaign_id, made in brevo.campaigns.items()
        if made["body"]["recipients"] == {"listIds": [fake_list]}
    ]
    assert mine == [int(record["provider_campaign_id"])]
    stop_newsletters(developer, connection_id)
