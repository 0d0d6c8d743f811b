"""Brevo and Mailchimp kept in line with the buyer list by a running server.

One server for the module (workers, queue_job's runner), configured with the
fakes' addresses as a co-op's would be with the providers'; the fakes run in
this process on 127.0.0.1 and fail the module on any request outside the
providers' documented contract. 10 000 buyers generated in SQL are synced
into each; then the changes of a day are synced and nothing else is sent;
an unsubscribe posted by a fake's webhook blacklists the address in Odoo for
good; the server killed (SIGKILL) in the middle of a sync resumes it; hostile
answers are recorded as readable errors with the cursor kept. The provider
keys are in no line of the server's log.

The tests run in order on the same server and fakes: each starts from what
the one before left.
"""

import hashlib
import json
import secrets
import signal
import time

import psycopg2
import pytest
import requests
from fakes.brevo import FakeBrevo
from fakes.mailchimp import FakeMailchimp
from harness import (
    ADDON,
    ADMIN,
    DEV_LOGS,
    OdooCli,
    OdooServer,
    Rpc,
    create_developer,
    settings_uri,
    template,
    wait_for,
)

BUYERS = 10_000
PAGE_SIZE = 1000  # the sync's page (coop_newsletter_connection_sync.PAGE_SIZE)
MEMBER_BATCH = 500  # Mailchimp's batch (newsletter/mailchimp.py)
CONNECTION = "coop.newsletter.connection"
SYNC_TIMEOUT = 600


def address(n):
    return f"nl{n}@example.org"


def sql(settings, db_name):
    """A connection to the database, from Odoo's connection settings."""
    return psycopg2.connect(f"{settings_uri(settings)}/{db_name}")


def generate_buyers(settings, db_name):
    """BUYERS French customers, each with one confirmed order in the main
    shop and a phone written the national way, inserted in SQL: the buyer
    table's triggers make them buyers."""
    with (
        sql(settings, db_name) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(
            """INSERT INTO res_partner (name, complete_name, email, email_normalized,
                   phone, country_id, active, type, is_company, autopost_bills,
                   partner_share, lang, create_date, write_date)
               SELECT 'Buyer ' || n, 'Buyer ' || n, 'nl' || n || '@Example.org',
                      'nl' || n || '@example.org', '06 ' || lpad(n::text, 8, '0'),
                      (SELECT id FROM res_country WHERE code = 'FR'), TRUE,
                      'contact', FALSE, 'ask', TRUE, 'en_US', now(), now()
                 FROM generate_series(1, %s) AS n""",
            [BUYERS],
        )
        cursor.execute(
            """UPDATE res_partner SET commercial_partner_id = id
                WHERE email_normalized ~ '^nl[0-9]+@example[.]org$'"""
        )
        cursor.execute(
            """INSERT INTO sale_order (name, company_id, partner_id,
                   partner_invoice_id, partner_shipping_id, date_order, state,
                   create_date, write_date, amount_total, invoice_status, locked)
               SELECT 'NL/' || p.id, d.res_id, p.id, p.id, p.id,
                      now() AT TIME ZONE 'UTC' - interval '3 days', 'sale',
                      now(), now(), 25.0, 'to invoice', FALSE
                 FROM res_partner p
                 JOIN ir_model_data d
                   ON d.module = 'base' AND d.name = 'main_company'
                WHERE p.email_normalized ~ '^nl[0-9]+@example[.]org$'"""
        )


class World:
    """The server, its users, the fakes and the connections of the module."""

    def __init__(self, cli, server, brevo, mailchimp):
        self.cli = cli
        self.server = server
        self.brevo = brevo
        self.mailchimp = mailchimp
        self.connections = {}  # name: id
        self.lists = {}  # name: the provider's list id
        self.login()

    def login(self):
        self.admin = Rpc(self.server, *ADMIN)
        self.dev = Rpc(self.server, "nl-dev", "nl-dev-pw")

    def read(self, name, *fields):
        [values] = self.dev(CONNECTION, "read", [self.connections[name]], list(fields))
        return values

    def connect(self, name, provider, list_name):
        fake = self.brevo if provider == "brevo" else self.mailchimp
        list_id = fake.add_list(list_name)
        shop = self.admin.ref("base.main_company")
        connection_id = self.dev(CONNECTION, "coop_connect", provider, fake.key, shop)[
            "id"
        ]
        self.dev(CONNECTION, "action_set_list", [connection_id], str(list_id))
        self.connections[name] = connection_id
        self.lists[name] = list_id
        return connection_id

    def sync(self, name, state="connected"):
        """Sync now, and wait for its jobs' end: the connection's values."""
        jobs = [("model_name", "=", CONNECTION)]
        before = self.admin("queue.job", "search_count", jobs)
        self.dev(CONNECTION, "action_sync_now", [self.connections[name]])

        def ended():
            under_way = [*jobs, ("state", "in", ["pending", "enqueued", "started"])]
            return self.admin("queue.job", "search_count", jobs) > before and not (
                self.admin("queue.job", "search_count", under_way)
            )

        wait_for(ended, timeout=SYNC_TIMEOUT, interval=0.5, what="the sync's jobs")
        # No job crashed: a provider's answer, however bad, is recorded.
        assert not self.admin(
            "queue.job",
            "search_read",
            [*jobs, ("state", "!=", "done")],
            fields=["state", "exc_info"],
        )
        values = self.read(name, "state", "last_sync_at", "last_error", "sync_cursor")
        assert values["state"] == state, values
        return values


@pytest.fixture(scope="module")
def world(odoo_env):
    brevo = FakeBrevo(key=f"xkeysib-{secrets.token_hex(24)}", import_delay=0.05)
    mailchimp = FakeMailchimp(key=f"{secrets.token_hex(16)}-us21")
    with brevo, mailchimp:
        cli = OdooCli(
            odoo_env,
            f"coop_nlsync_{secrets.token_hex(4)}",
            workers="2",
            max_cron_threads="0",  # syncs only when the tests say
            channels="root:1,root.webhook:1,root.newsletter:1",
            coop_newsletter_brevo_url=brevo.url,
            coop_newsletter_mailchimp_url=mailchimp.url,
            coop_newsletter_allowed_networks="127.0.0.0/8",
            coop_newsletter_optout_allow_http="1",
            # The addon's own debug lines too: none may hold a key.
            log_handler="odoo.addons.coop_developer_settings:DEBUG",
        ).copy(template(odoo_env))
        server = OdooServer(cli, DEV_LOGS / f"{cli.db_name}-server.log")
        try:
            returncode, log = cli.run("-i", ADDON, "--stop-after-init")
            assert not returncode, f"installing {ADDON} failed:\n{log[-3000:]}"
            generate_buyers(odoo_env["db"], cli.db_name)
            server.start()
            admin = Rpc(server, *ADMIN)
            admin("ir.config_parameter", "set_param", "web.base.url", server.url)
            create_developer(admin, "nl-dev", "Newsletter volunteer")
            yield World(cli, server, brevo, mailchimp)
        finally:
            server.stop()
            cli.drop()
    check_no_key_in_log(server.log_path, brevo, mailchimp)


def check_no_key_in_log(path, *fakes):
    log = path.read_text(errors="replace")
    assert "newsletter" in log, "not the server's log, or an empty one"
    for fake in fakes:
        # The key, and the part of it that could be cut out of a line.
        assert fake.key not in log, f"a provider key is in {path}"
        assert fake.key[-16:] not in log, f"a provider key's end is in {path}"


# What the fakes were sent, by address.


def brevo_sent(fake, since=0):
    """{address: [what]}: imported (subscribed / blacklisted) or removed."""
    sent = {}
    for request in fake.requests[since:]:
        body = request["body"] or {}
        if request["path"].endswith("/contacts/import"):
            what = "blacklisted" if body.get("emailBlacklist") else "imported"
            for row in body["jsonBody"]:
                sent.setdefault(row["email"], []).append(what)
        elif request["path"].endswith("/contacts/remove"):
            for email in body["emails"]:
                sent.setdefault(email, []).append("removed")
    return sent


def mailchimp_sent(fake, since=0, known=()):
    """{address: [what]}: batched with a status, updated, archived (directly
    or as a batch operation); known: the addresses whose archive (a DELETE
    of their hash) is recognised."""
    hashes = {hashlib.md5(a.encode()).hexdigest(): a for a in known}  # noqa: S324
    sent = {}

    def one(method, path, body):
        if method == "PUT":
            sent.setdefault(body["email_address"], []).append("updated")
        elif method == "DELETE" and "/members/" in path:
            member = hashes.get(path.rsplit("/", 1)[1], path)
            sent.setdefault(member, []).append("archived")

    for request in fake.requests[since:]:
        body = request["body"] or {}
        path = request["path"]
        if request["method"] == "POST" and path == "/3.0/batches":
            for operation in body["operations"]:
                operation_body = json.loads(operation.get("body") or "null")
                one(operation["method"], operation["path"], operation_body)
        elif request["method"] == "POST" and path.count("/") == 3:  # /3.0/lists/{id}
            for member in body["members"]:
                sent.setdefault(member["email_address"], []).append(member["status"])
        else:
            one(request["method"], path, body)
    return sent


def handed_back(world, name):
    """The addresses the buyer API's sync contract may hand to this
    connection's next sync besides what changed: those of the buyers written
    by a transaction at or after its cursor's watermark, the oldest
    transaction still running in the PostgreSQL cluster when the last sync
    began (on a cluster shared with long transactions, what that sync sent
    may come again; sending it again changes nothing)."""
    since = world.read(name, "sync_cursor")["sync_cursor"].split(".")[1]
    with (
        sql(world.cli.db_settings, world.cli.db_name) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT email_normalized, previous_email FROM coop_buyer "
            "WHERE write_xid >= %s::xid8",
            [since],
        )
        return {value for row in cursor.fetchall() for value in row if value}


def check_sent(sent, expected, again):
    """What was sent is what changed, each as expected, and nothing else
    but what the cursor's contract hands back again."""
    assert {a: sent.get(a) for a in expected} == expected
    assert set(sent) - set(expected) <= again, set(sent) - set(expected) - again


# The tests, in order.


def test_ten_thousand_buyers_synced_into_each_tool(world):
    brevo, mailchimp = world.brevo, world.mailchimp
    world.connect("brevo", "brevo", "Buyers")
    world.connect("mailchimp", "mailchimp", "Buyers")
    started = time.monotonic()
    world.sync("brevo")
    world.sync("mailchimp")
    elapsed = time.monotonic() - started
    generated = {address(n) for n in range(1, BUYERS + 1)}

    members = brevo.members(world.lists["brevo"])
    assert generated <= members
    sent = brevo_sent(brevo)
    assert {a: sent[a] for a in generated} == dict.fromkeys(generated, ["imported"])
    assert brevo.contacts[address(42)]["attributes"]["SMS"] == "+33600000042"

    audience = mailchimp.members[world.lists["mailchimp"]]
    assert generated <= {a for a, m in audience.items() if m["status"] == "subscribed"}
    sent = mailchimp_sent(mailchimp)
    assert {a: sent[a] for a in generated} == dict.fromkeys(generated, ["subscribed"])
    fields = audience[address(42)]["merge_fields"]
    assert fields["PHONE"] == "+33600000042"  # "06 00 00 00 42" of a French buyer
    assert (fields["FNAME"], fields["LNAME"], fields["ORDERS"]) == ("Buyer", "42", 1)
    assert fields["SHOP"] and fields["FIRSTORDER"] == fields["LASTORDER"]
    print(f"first sync of {len(members)} buyers into each fake: {elapsed:.1f} s")


def a_days_changes(admin):
    """1: its only order cancelled; 2: a new address; 3: blacklisted; 4 and
    5: the same person, merged into 4 by Odoo's wizard (5's order moves)."""
    partner = {
        n: admin("res.partner", "search", [("email", "=", f"nl{n}@Example.org")])[0]
        for n in range(1, 6)
    }
    [order] = admin("sale.order", "search", [("partner_id", "=", partner[1])])
    admin(
        "sale.order", "action_cancel", [order], context={"disable_cancel_warning": True}
    )
    admin("res.partner", "write", [partner[2]], {"email": "nl2-new@example.org"})
    admin("mail.blacklist", "create", {"email": address(3)})
    wizard = admin(
        "base.partner.merge.automatic.wizard",
        "create",
        {
            "partner_ids": [(6, 0, [partner[4], partner[5]])],
            "dst_partner_id": partner[4],
        },
    )
    admin("base.partner.merge.automatic.wizard", "action_merge", [wizard])


def test_a_days_changes_and_nothing_else_are_sent(world):
    admin, brevo, mailchimp = world.admin, world.brevo, world.mailchimp
    marks = (len(brevo.requests), len(mailchimp.requests))
    a_days_changes(admin)
    again = {name: handed_back(world, name) for name in ("brevo", "mailchimp")}
    world.sync("brevo")
    world.sync("mailchimp")

    moved = "nl2-new@example.org"
    expected = {
        address(1): ["removed"],
        address(2): ["removed"],
        moved: ["imported"],
        address(3): ["blacklisted"],
        address(4): ["imported"],
        address(5): ["removed"],
    }
    check_sent(brevo_sent(brevo, marks[0]), expected, again["brevo"])
    members = brevo.members(world.lists["brevo"])
    assert {address(1), address(2), address(5)}.isdisjoint(members)
    assert {moved, address(4)} <= members
    assert brevo.contacts[address(3)]["blacklisted"]
    assert brevo.contacts[address(4)]["attributes"]["COOP_ORDER_COUNT"] == 2

    known = [address(n) for n in range(1, 6)]
    expected = {
        address(1): ["archived"],
        address(2): ["archived"],
        moved: ["subscribed"],
        address(3): ["unsubscribed"],
        address(4): ["subscribed", "updated"],  # the batch says it exists
        address(5): ["archived"],
    }
    sent = mailchimp_sent(mailchimp, marks[1], {*known, *again["mailchimp"]})
    check_sent(sent, expected, again["mailchimp"])
    audience = world.lists["mailchimp"]
    assert [mailchimp.status(audience, a) for a in known] == [
        "archived",
        "archived",
        "unsubscribed",
        "subscribed",
        "archived",
    ]
    assert mailchimp.members[audience][address(4)]["merge_fields"]["ORDERS"] == 2


def test_an_unsubscribe_in_the_tool_is_never_undone(world):
    admin, brevo, mailchimp = world.admin, world.brevo, world.mailchimp
    assert brevo.unsubscribe(address(10)) == [200]
    audience = world.lists["mailchimp"]
    assert mailchimp.unsubscribe(audience, address(11)) == [200]
    blacklisted = admin(
        "mail.blacklist",
        "search_read",
        [("email", "in", [address(10), address(11)])],
        fields=["email"],
    )
    assert sorted(b["email"] for b in blacklisted) == [address(10), address(11)]
    # Each buys again: what the tools are sent keeps them opted out.
    for n in (10, 11):
        [partner] = admin(
            "res.partner", "search", [("email", "=", f"nl{n}@Example.org")]
        )
        order = admin("sale.order", "create", {"partner_id": partner})
        admin("sale.order", "action_confirm", [order])
    marks = (len(brevo.requests), len(mailchimp.requests))
    again = {name: handed_back(world, name) for name in ("brevo", "mailchimp")}
    world.sync("brevo")
    world.sync("mailchimp")
    opted_out = {address(10), address(11), address(3)}
    sent = brevo_sent(brevo, marks[0])
    check_sent(
        sent, dict.fromkeys(opted_out - {address(3)}, ["blacklisted"]), again["brevo"]
    )
    assert all(sent[a] == ["blacklisted"] for a in opted_out & set(sent))
    assert brevo.contacts[address(10)]["blacklisted"]
    sent = mailchimp_sent(mailchimp, marks[1], again["mailchimp"])
    check_sent(
        sent,
        dict.fromkeys(opted_out - {address(3)}, ["unsubscribed"]),
        again["mailchimp"],
    )
    assert all(sent[a] == ["unsubscribed"] for a in opted_out & set(sent))
    assert mailchimp.status(audience, address(11)) == "unsubscribed"


def test_a_server_killed_mid_sync_resumes_it_each_contact_once(world):
    mailchimp = world.mailchimp
    world.connect("second", "mailchimp", "Second audience")
    audience = world.lists["second"]
    mark = len(mailchimp.requests)
    mailchimp.latency = 0.5  # a page takes a second or more: time to kill it
    world.dev(CONNECTION, "action_sync_now", [world.connections["second"]])
    settings = world.cli.db_settings

    def half_sent():
        with (
            sql(settings, world.cli.db_name) as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "SELECT sync_cursor FROM coop_newsletter_connection WHERE id = %s",
                [world.connections["second"]],
            )
            # A page accepted, and the first of the two batches of another.
            added = len(mailchimp.members[audience])
            return cursor.fetchone()[0] and added % PAGE_SIZE == MEMBER_BATCH

    wait_for(half_sent, timeout=SYNC_TIMEOUT, interval=0.05, what="a page half sent")
    world.server.stop(signal.SIGKILL)
    members_at_kill = len(mailchimp.members[audience])
    mailchimp.latency = 0
    assert members_at_kill < BUYERS, "the sync ended before the kill"
    world.server.start()
    world.login()
    # queue_job's runner puts the killed page back; the sync goes on.
    values = wait_for(
        lambda: world.read("second", "state", "last_sync_at")["last_sync_at"],
        timeout=SYNC_TIMEOUT,
        interval=0.5,
        what="the sync resumed to its end",
    )
    assert world.read("second", "state")["state"] == "connected", values
    generated = {address(n) for n in range(1, BUYERS + 1)} - {
        address(n) for n in (1, 2, 3, 5, 10, 11)
    }
    members = mailchimp.members[audience]
    assert generated <= {a for a, m in members.items() if m["status"] == "subscribed"}
    # Each contact added once; only the page under way when the server died
    # was sent again: its members added before then exist, so the batch
    # leaves them alone and they are updated.
    sent = mailchimp_sent(mailchimp, mark)
    again = {a: tuple(what) for a, what in sent.items() if len(what) > 1}
    assert MEMBER_BATCH <= len(again) <= PAGE_SIZE
    assert set(again.values()) == {("subscribed", "subscribed", "updated")}


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("html", "HTTP 502 with an unreadable body (text/html)"),
        ("malformed", "not JSON"),
        ("huge", "larger than"),
        ("drip", "no whole answer within"),
    ],
)
def test_hostile_answers_are_recorded_the_cursor_kept(world, mode, error):
    admin, brevo = world.admin, world.brevo
    [partner] = admin("res.partner", "search", [("email", "=", "nl20@Example.org")])
    order = admin("sale.order", "create", {"partner_id": partner})
    admin("sale.order", "action_confirm", [order])
    cursor = world.read("brevo", "sync_cursor")["sync_cursor"]
    brevo.hostile = mode
    try:
        values = world.sync("brevo", state="failing")
    finally:
        brevo.hostile = None
    assert error in values["last_error"], values
    assert world.read("brevo", "sync_cursor")["sync_cursor"] == cursor
    answer = requests.get(f"{world.server.url}/web/login", timeout=30)
    assert answer.status_code == 200  # the server is up
    mark = len(brevo.requests)
    again = handed_back(world, "brevo")
    values = world.sync("brevo")
    assert not values["last_error"]
    check_sent(brevo_sent(brevo, mark), {address(20): ["imported"]}, again)


def test_no_provider_key_in_the_server_log(world):
    # So far; the fixture checks the whole log again once the server stopped.
    check_no_key_in_log(world.server.log_path, world.brevo, world.mailchimp)
