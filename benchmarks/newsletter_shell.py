# Run inside `odoo shell` by newsletter.py (env is Odoo's). BENCH_STEP=setup
# creates the benchmark's user and sale cycles; BENCH_STEP=sync connects a
# provider fake (BENCH_PROVIDER) answering after BENCH_LATENCY under the
# provider's published rate limits, then runs the connection's sync jobs
# in this process as queue_job's runner would (Job.perform, one commit per
# job) until none is left: the first sync, then (BENCH_DAY: a JSON file of
# SQL statements, a day of changes written by newsletter.py) the next one.
# Mailchimp's batch operations take BENCH_MAILCHIMP_BATCH_DELAY seconds
# (the fake's; Mailchimp's own were never measured here).
# BENCH_STEP=confirm times confirming an order with and without the
# connections. Prints one BENCH_RESULT JSON line.
import functools
import json
import os
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timedelta

from odoo.tools import config

from odoo.addons.coop_developer_settings.models import (
    coop_newsletter_connection as connection_module,
)
from odoo.addons.coop_developer_settings.models import (
    coop_newsletter_connection_sync as connection_sync,
)
from odoo.addons.coop_developer_settings.newsletter import brevo, mailchimp
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import PENDING, Job

sys.path.insert(0, os.environ["BENCH_TESTS_DIR"])
from fakes.brevo import FakeBrevo  # noqa: E402
from fakes.mailchimp import FakeMailchimp  # noqa: E402

STEP = os.environ["BENCH_STEP"]
LATENCY = float(os.environ.get("BENCH_LATENCY", "0.05"))
BATCH_DELAY = float(os.environ.get("BENCH_MAILCHIMP_BATCH_DELAY", "0.3"))
cr = env.cr  # noqa: F821 - given by odoo shell
Connection = env["coop.newsletter.connection"]  # noqa: F821
FAKES = {"brevo": FakeBrevo, "mailchimp": FakeMailchimp}
CLIENTS = {"brevo": brevo.BrevoClient, "mailchimp": mailchimp.MailchimpClient}


def setup():
    main = env.ref("base.main_company")  # noqa: F821
    now = datetime.utcnow()
    cycles = env["coop.sale.cycle"].create(  # noqa: F821
        [
            {
                "name": f"Bench cycle {n}",
                "company_id": main.id,
                "date_open": now - timedelta(days=300 - n * 30),
                "date_close": now - timedelta(days=293 - n * 30),
            }
            for n in range(10)
        ]
    )
    user = env["res.users"].create(  # noqa: F821
        {
            "name": "Bench newsletter",
            "login": "bench-newsletter",
            "company_id": main.id,
            "company_ids": [(6, 0, main.ids)],
            "groups_id": [
                (4, env.ref("base.group_user").id),  # noqa: F821
                (4, env.ref("coop_developer_settings.group_developer_settings").id),  # noqa: F821
            ],
        }
    )
    cr.commit()
    return {"user": user.id, "company": main.id, "cycles": cycles.ids}


# ----------------------------------------------------------------------
# Where the time goes: the model's steps and the client's calls, timed
# around the real methods (nothing else changes).
# ----------------------------------------------------------------------

spent = Counter()
sent = []  # the contacts handed to the client, call by call


def timed(owner, name, label, record=False):
    original = getattr(owner, name)

    def wrapper(self, *args, **kwargs):
        if record:
            sent.append(args[-1])
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - start

    setattr(owner, name, wrapper)


ConnectionClass = type(Connection)
timed(ConnectionClass, "_buyer_page", "buyer page (SQL)")
timed(ConnectionClass, "_contacts", "contacts (Python)")
for client_class in CLIENTS.values():
    timed(client_class, "upsert_contacts", "provider client", record=True)


# ----------------------------------------------------------------------
# The runner: queue_job's, without HTTP in between
# ----------------------------------------------------------------------


def run_jobs(fake):
    """Perform the connections' pending jobs one after the other as the
    runner does; a job rate-limited for longer than the client waits is
    tried again at once with the fake's quotas emptied, as if its reset
    had come (the wait is counted apart). Returns (jobs, waits)."""
    jobs, waits = 0, []
    while True:
        record = env["queue.job"].search(  # noqa: F821
            [("state", "=", PENDING), ("model_name", "=", Connection._name)],
            order="id",
            limit=1,
        )
        if not record:
            return jobs, waits
        job = Job.load(env, record.uuid)  # noqa: F821
        job.set_started()
        job.store()
        cr.commit()
        try:
            job.perform()
            env.flush_all()  # noqa: F821
            job.set_done()
            job.store()
            cr.commit()
            jobs += 1
        except RetryableJobError as exc:
            cr.rollback()
            env.invalidate_all()  # noqa: F821
            waits.append(exc.seconds)
            for quota in fake.quotas:
                quota.sent.clear()
                quota.limited_until = 0.0
            job = Job.load(env, record.uuid)  # noqa: F821
            job.set_pending(reset_retry=False)
            job.store()
            cr.commit()


def calls_by_kind(fake):
    kinds = Counter()
    for request in fake.requests:
        path = request["path"][len(fake.prefix) :]
        if request["method"] == "GET" and path.startswith("/processes/"):
            kinds["poll (GET /processes)"] += 1
        elif path == "/contacts/import":
            kinds["import"] += 1
        elif path.endswith("/contacts/remove"):
            kinds["list removal"] += 1
        elif "/members/" in path:
            kinds[f"{request['method']} member"] += 1
        elif path == "/batches":
            kinds["batch operation (POST /batches)"] += 1
        elif path.startswith("/batches/"):
            kinds["poll (GET /batches)"] += 1
        elif request["method"] == "POST" and path.startswith("/lists/"):
            kinds["batch of members"] += 1
        else:
            kinds[f"{request['method']} {path}"] += 1
    return dict(kinds)


def updates(fake):
    """The member updates Mailchimp was sent, one by one or as batch
    operations."""
    count = 0
    for request in fake.requests:
        if request["method"] == "PUT":
            count += 1
        elif request["path"] == "/3.0/batches":
            operations = request["body"]["operations"]
            count += sum(1 for op in operations if op["method"] == "PUT")
    return count


def minimum(provider_name, contacts_sent, fake):
    """The fewest calls the provider's limits allow for these contacts,
    and the least time they take (LATENCY each, Mailchimp's 10 at once,
    Brevo's imports processed side by side)."""
    contacts = [contact for batch in contacts_sent for contact in batch]
    by_state = Counter(contact.state for contact in contacts)
    off_list = by_state["removed"] + sum(contact.moved for contact in contacts)
    if provider_name == "brevo":
        # One import per part the client must make (10 000 contacts or 4 MB),
        # opted-out ones apart, each followed by one poll at least.
        imports = sum(
            len(list(brevo.import_parts([c for c in contacts if c.state == state])))
            for state in ("subscribed", "opted_out")
        )
        calls = imports * 2 + -(-off_list // brevo.REMOVE_BATCH)
        seconds = calls * LATENCY + (fake.import_delay if imports else 0)
    else:
        # Members 500 a call; the one-address requests (the archives of the
        # addresses taken off, the updates of the members already there)
        # in one batch operation, followed by one poll at least.
        calls = -(-(by_state["subscribed"] + by_state["opted_out"]) // 500)
        one_address = bool(off_list or updates(fake))
        calls += 2 * one_address
        seconds = -(-calls // 10) * LATENCY + fake.batch_delay * one_address
    return {"calls": calls, "seconds": seconds, "detail": dict(by_state)}


def measure(fake, provider_name, run):
    spent.clear()
    sent.clear()
    fake.requests.clear()
    getattr(fake, "batches", {}).clear()
    start = time.perf_counter()
    run()
    jobs, waits = run_jobs(fake)
    wall = time.perf_counter() - start
    return {
        "wall": wall,
        "jobs": jobs,
        "waits": waits,
        "calls": len(fake.requests),
        "by_kind": calls_by_kind(fake),
        "refused": sum(quota.refused for quota in fake.quotas),
        "spent": dict(spent),
        "contacts": sum(len(batch) for batch in sent),
        "minimum": minimum(provider_name, sent, fake),
        "peak_in_flight": fake.peak_in_flight,
        # Mailchimp's batch operations: (operations, errored) of each.
        "batches": [
            (len(b["results"]), sum(code >= 400 for _op, code in b["results"]))
            for b in getattr(fake, "batches", {}).values()
        ],
    }


def connect(fake, provider_name, setup_data, label):
    config[connection_module.BASE_URL_OPTIONS[provider_name]] = fake.url
    user = env["res.users"].browse(setup_data["user"])  # noqa: F821
    created = Connection.with_user(user).coop_connect(
        provider_name, fake.key, setup_data["company"]
    )
    connection = Connection.with_user(user).browse(created["id"])
    connection.action_set_list(fake.add_list(label))
    cr.commit()
    return connection


def quotas_reset(fake):
    for quota in fake.quotas:
        quota.sent.clear()
        quota.limited_until = 0.0
        quota.refused = 0


def sync():
    provider_name = os.environ["BENCH_PROVIDER"]
    setup_data = json.loads(os.environ["BENCH_SETUP"])
    pages = int(os.environ.get("BENCH_PAGES_PER_JOB", "0"))
    connections = os.environ.get("BENCH_MAILCHIMP_CONNECTIONS")
    if os.environ.get("BENCH_MAILCHIMP_BATCH_FROM"):  # what-if: other threshold
        mailchimp.BATCH_FROM = int(os.environ["BENCH_MAILCHIMP_BATCH_FROM"])
    if connections:  # what-if: the client's default raised
        connection_module.CLIENTS["mailchimp"] = functools.partial(
            mailchimp.MailchimpClient, connections=int(connections)
        )
    Fake = FAKES[provider_name]
    options = {"latency": LATENCY, "rate_limits": Fake.published_rate_limits}
    if provider_name == "mailchimp":  # seconds before a batch operation is done
        options["batch_delay"] = BATCH_DELAY
    result = {}
    with Fake(**options) as fake:
        connection = connect(fake, provider_name, setup_data, "Buyers")
        if pages:  # what-if: pages a job other than the model's
            connection_sync.PAGES_PER_JOB[provider_name] = pages
        first = measure(fake, provider_name, connection.action_sync_now)
        first["members"] = (
            len(fake.members(int(connection.list_id)))
            if provider_name == "brevo"
            else fake._count(connection.list_id)
        )
        first["state"] = connection.sudo().state
        first["last_error"] = connection.sudo().last_error or ""
        result["first"] = first
        all_contacts = [c for batch in sent for c in batch]
        if os.environ.get("BENCH_DAY"):
            # The day after: the quotas of the first sync's hour are gone.
            quotas_reset(fake)
            with open(os.environ["BENCH_DAY"]) as changes:
                for statement in json.load(changes):
                    cr.execute(statement)  # the triggers on, as in production
                    cr.commit()
            env.invalidate_all()  # noqa: F821
            result["day"] = measure(fake, provider_name, connection.action_sync_now)
    # Baseline, same run: the plain client alone, handed the same contacts in
    # one call, against a fake of its own (same latency, same limits).
    with Fake(**options) as fake:
        list_id = fake.add_list("Baseline")
        client = connection_module.CLIENTS[provider_name](fake.key, base_url=fake.url)
        client.ensure_fields(list_id)  # as the list choice does
        start = time.perf_counter()
        waits = []
        while True:
            try:
                client.upsert_contacts(list_id, all_contacts)
                break
            except Exception as exc:  # a rate limit longer than the client waits
                if not getattr(exc, "reset", None):
                    raise
                waits.append(exc.reset)
                quotas_reset(fake)
        result["baseline"] = {
            "wall": time.perf_counter() - start,
            "calls": len(fake.requests),
            "by_kind": calls_by_kind(fake),
            "waits": waits,
            "contacts": len(all_contacts),
        }
    return result


# ----------------------------------------------------------------------
# Confirming an order with and without newsletter connections
# ----------------------------------------------------------------------


def confirm():
    partners = env["res.partner"].search(  # noqa: F821
        [("email", "=ilike", "customer%@example.org")], limit=200
    )
    orders = env["sale.order"].create(  # noqa: F821
        [{"partner_id": partner.id} for partner in partners]
    )
    cr.commit()
    connections = Connection.sudo().search_count([("state", "!=", "disconnected")])
    samples = {True: [], False: []}
    statements = {True: [], False: []}
    try:
        for index, order in enumerate(orders):
            with_connections = index % 2 == 0
            if not with_connections:
                cr.execute("DELETE FROM coop_newsletter_connection")
            count = cr.sql_log_count
            start = time.perf_counter()
            order.action_confirm()
            env.flush_all()  # noqa: F821
            elapsed = time.perf_counter() - start
            queries = cr.sql_log_count - count
            cr.rollback()
            env.invalidate_all()  # noqa: F821
            if index >= 10:  # the first ones warm the caches
                samples[with_connections].append(elapsed)
                statements[with_connections].append(queries)
    finally:
        env["sale.order"].browse(orders.ids).unlink()  # noqa: F821
        cr.commit()
    return {
        "connections": connections,
        "runs": len(samples[True]),
        "with": statistics.median(samples[True]),
        "without": statistics.median(samples[False]),
        "statements_with": sorted(set(statements[True])),
        "statements_without": sorted(set(statements[False])),
    }


print(
    "BENCH_RESULT "
    + json.dumps({"setup": setup, "sync": sync, "confirm": confirm}[STEP]())
)
