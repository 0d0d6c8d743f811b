#!/usr/bin/env python3
"""Newsletter sync benchmark: the buyer list into Brevo and Mailchimp.

Generates in SQL (generate_series, no ORM) BENCH_NEWSLETTER_BUYERS
customers (100 000 by default) of one shop, two confirmed orders each,
then, for each provider, in `odoo shell` (newsletter_shell.py): connects
the provider's fake (coop_developer_settings/tests/fakes/) answering after
50 ms under the provider's published rate limits, and runs the
connection's own sync jobs as queue_job's runner does, one after the other:
the first sync, then a day of changes (about 3 000 buyers: new orders, new
customers, cancelled ones, opt-outs, changed addresses, names) and the
sync after it. Baselines, same run: the fewest calls the limits allow for
the contacts sent and their least time; the plain client handed all the
same contacts in one call. Then what confirming an order costs with and
without connections. Prints tables. Run with `make bench BENCH=newsletter`.
"""

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness import ADDON, ROOT, OdooCli, odoo_env_from_environ  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from buyers import BUYER_SQL, MAINTENANCE_TRIGGERS, Database  # noqa: E402

BUYERS = int(os.environ.get("BENCH_NEWSLETTER_BUYERS", "100000"))
PROVIDERS = os.environ.get("BENCH_NEWSLETTER_PROVIDERS", "brevo,mailchimp").split(",")
# Pages of the buyer API a job reads in the what-if runs (0: none).
WHAT_IF_PAGES = int(os.environ.get("BENCH_NEWSLETTER_WHAT_IF_PAGES", "10"))
WHAT_IF_CONNECTIONS = int(os.environ.get("BENCH_NEWSLETTER_WHAT_IF_CONNECTIONS", "10"))
# A Mailchimp run without batch operations, every update and archive one
# request (the client before them), as a baseline (0: not run).
WHAT_IF_DIRECT = int(os.environ.get("BENCH_NEWSLETTER_WHAT_IF_DIRECT", "1"))
LATENCY = os.environ.get("BENCH_LATENCY", "0.05")
# Seconds the Mailchimp fake takes to process a batch operation.
BATCH_DELAY = os.environ.get("BENCH_MAILCHIMP_BATCH_DELAY", "0.3")
TARGETS = {"brevo": 120, "mailchimp": 300}  # seconds for the first sync
DAY_TARGET = 10
CALLS_TARGET = 1.2  # × the fewest calls the limits allow


def odoo_shell(cli, step, **variables):
    result = subprocess.run(
        [cli.bin, "shell", "-c", cli.config, "-d", cli.db_name, "--no-http"],
        input=(HERE / "newsletter_shell.py").read_text(),
        capture_output=True,
        text=True,
        env=dict(
            os.environ,
            BENCH_STEP=step,
            BENCH_LATENCY=LATENCY,
            BENCH_MAILCHIMP_BATCH_DELAY=BATCH_DELAY,
            BENCH_TESTS_DIR=str(ROOT / ADDON / "tests"),
            **variables,
        ),
        check=False,
    )
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_RESULT ")]
    if not lines:
        sys.exit(f"odoo shell step {step} failed:\n{result.stderr[-3000:]}")
    return json.loads(lines[-1].split(" ", 1)[1])


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------

CUSTOMERS = """INSERT INTO res_partner (name, complete_name, email, email_normalized,
                                phone, active, type, is_company, autopost_bills,
                                partner_share, lang, create_date, write_date)
   SELECT 'Customer ' || n, 'Customer ' || n, 'Customer' || n || '@Example.org',
          'customer' || n || '@example.org',
          '+33 1 ' || lpad((n %% 100000000)::text, 8, '0'),
          TRUE, 'contact', FALSE, 'ask', TRUE, 'en_US',
          now() AT TIME ZONE 'UTC' - interval '400 days',
          now() AT TIME ZONE 'UTC' - interval '300 days'
     FROM generate_series(%(first)s, %(last)s) AS n"""

# ``per`` confirmed orders for each customer above partner id ``after``;
# the last one in one of the shop's cycles.
ORDERS = """INSERT INTO sale_order (name, company_id, partner_id, partner_invoice_id,
                               partner_shipping_id, date_order, state,
                               sale_cycle_id, create_date, write_date,
                               amount_total, invoice_status, locked)
   SELECT %(prefix)s || p.id || '/' || k, %(company)s, p.id, p.id, p.id, o.date_order,
          'sale',
          CASE WHEN k = %(per)s
               THEN (%(cycles)s::int[])[1 + p.id %% cardinality(%(cycles)s::int[])]
          END,
          o.date_order, o.date_order, 25.0, 'to invoice', FALSE
     FROM res_partner p
    CROSS JOIN generate_series(1, %(per)s) AS k
    CROSS JOIN LATERAL (
        SELECT now() AT TIME ZONE 'UTC' - (k * 40 + random() * 30) * interval '1 day'
               AS date_order
    ) AS o
    WHERE p.id > %(after)s AND p.email LIKE 'Customer%%'"""


def generate(db, setup):
    """The customers and their orders, the triggers off, then the buyer
    table rebuilt as install does."""
    for table, trigger in MAINTENANCE_TRIGGERS:
        db.run(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    after = db.value("SELECT max(id) FROM res_partner")
    db.run(CUSTOMERS, {"first": 1, "last": BUYERS})
    db.run("UPDATE res_partner SET commercial_partner_id = id WHERE id > %s", [after])
    db.run(
        ORDERS,
        {
            "prefix": "NLB/",
            "company": setup["company"],
            "cycles": setup["cycles"],
            "per": 2,
            "after": after,
        },
    )
    for table, trigger in MAINTENANCE_TRIGGERS:
        db.run(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
    db.run("VACUUM ANALYZE sale_order")
    db.run("VACUUM ANALYZE res_partner")
    db.run("TRUNCATE coop_buyer")
    db.run(f"BEGIN; {BUYER_SQL.REBUILD_UPSERT}; {BUYER_SQL.REBUILD_TOMBSTONE}; COMMIT;")
    db.run("VACUUM ANALYZE coop_buyer")
    return db.value("SELECT count(*) FROM coop_buyer WHERE active")


def a_day_of_changes(db, setup, day):
    """SQL statements, one transaction each (the triggers on): about 3 000
    buyers changed, drawn apart from each other: 2 000 buy again, 400 new
    customers buy, 200 cancel all their orders, 150 opt out, 150 change
    their address, 100 their name."""
    db.run("DROP TABLE IF EXISTS bench_pick")
    db.run(
        """CREATE TABLE bench_pick AS
           SELECT id, row_number() OVER (ORDER BY random()) AS n
             FROM res_partner WHERE email LIKE 'Customer%%' AND active"""
    )
    last = db.value("SELECT max(id) FROM res_partner")
    first_new = BUYERS + day * 1000
    return [
        f"""INSERT INTO sale_order (name, company_id, partner_id, partner_invoice_id,
                                   partner_shipping_id, date_order, state,
                                   create_date, write_date, amount_total,
                                   invoice_status, locked)
            SELECT 'DAY{day}/' || p.id, {setup["company"]}, p.id, p.id, p.id,
                   now(), 'sale', now(), now(), 25.0, 'to invoice', FALSE
              FROM bench_pick p WHERE p.n <= 2000""",
        CUSTOMERS % {"first": first_new + 1, "last": first_new + 400},
        f"UPDATE res_partner SET commercial_partner_id = id WHERE id > {last}",
        ORDERS
        % {
            "prefix": f"'DAYNEW{day}/'",
            "company": setup["company"],
            "cycles": f"ARRAY{setup['cycles']}",
            "per": 1,
            "after": last,
        },
        """UPDATE sale_order SET state = 'cancel'
            WHERE partner_id IN (SELECT id FROM bench_pick
                                  WHERE n > 2000 AND n <= 2200)""",
        """INSERT INTO mail_blacklist (email, active, create_date, write_date)
           SELECT p.email_normalized, TRUE, now(), now()
             FROM bench_pick b JOIN res_partner p ON p.id = b.id
            WHERE b.n > 2200 AND b.n <= 2350
           ON CONFLICT (email) DO NOTHING""",
        f"""UPDATE res_partner p
               SET email = 'moved{day}.' || p.id || '@example.net',
                   email_normalized = 'moved{day}.' || p.id || '@example.net'
              FROM bench_pick b
             WHERE b.id = p.id AND b.n > 2350 AND b.n <= 2500""",
        """UPDATE res_partner p SET name = p.name || ' (renamed)'
             FROM bench_pick b WHERE b.id = p.id AND b.n > 2500 AND b.n <= 2600""",
    ]


def settle(db, timeout=900):
    """Wait until no transaction older than our last write is running in
    the cluster. A sync's cursor starts at the oldest transaction running
    when its listing began (pg_snapshot_xmin, cluster-wide: other
    databases' transactions count): the next sync returns every row written
    since, so a transaction of another database left open during the first
    sync would make the day's sync send the rows generated before it again."""
    written = db.value("SELECT pg_current_xact_id()::text::bigint")
    waited = 0
    while db.value("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint") <= (
        written
    ):
        if waited >= timeout:
            sys.exit(f"a transaction older than {written} still runs in the cluster")
        time.sleep(1)
        waited += 1
    if waited:
        print(f"  waited {waited} s for older transactions to end", flush=True)


# ----------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------


def kinds(by_kind):
    return ", ".join(f"{count} {kind}" for kind, count in sorted(by_kind.items()))


def row(label, run, target):
    floor = run["minimum"]
    waits = sum(run["waits"])
    ratio = run["calls"] / floor["calls"] if floor["calls"] else float("nan")
    verdict = (
        "MET"
        if run["wall"] <= target and ratio <= CALLS_TARGET and not waits
        else "NOT MET"
    )
    spent = run["spent"]
    return (
        f"| {label} | {run['contacts']:,} | {run['wall']:.1f} s"
        + (f" + {waits:,.0f} s waiting for rate limits" if waits else "")
        + f" | {run['jobs']} | {run['calls']:,} ({kinds(run['by_kind'])})"
        + (f"; {run['refused']} answered 429" if run["refused"] else "")
        + f" | {floor['calls']:,} calls, {floor['seconds']:.1f} s"
        + f" | {ratio:.2f}× | "
        + f"{spent.get('buyer page (SQL)', 0):.1f} / "
        + f"{spent.get('contacts (Python)', 0):.1f} / "
        + f"{spent.get('provider client', 0):.1f} s"
        + f" | ≤ {target} s, ≤ {CALLS_TARGET}× | {verdict} |"
    )


def report(buyers, results, confirm):
    print(
        f"\n{buyers:,} buyers; fakes answering after {float(LATENCY) * 1000:.0f} ms;"
        f" Mailchimp's batch operations done after {float(BATCH_DELAY):g} s"
    )
    print(
        "\n| run | contacts sent | wall (first job queued → last done) | jobs | calls"
        " | fewest the limits allow | calls ÷ fewest | time in buyer pages / contacts"
        " / client | target | verdict |"
    )
    print("|---|---:|---:|---:|---|---|---:|---|---|---|")
    for label, provider, result in results:
        print(row(f"{label}: first sync", result["first"], TARGETS[provider]))
        if "day" in result:
            print(row(f"{label}: a day of changes", result["day"], DAY_TARGET))
    print("\nBaseline, same run: the plain client handed the same contacts in one call")
    print("\n| provider | contacts | wall | calls |")
    print("|---|---:|---:|---|")
    for label, _provider, result in results:
        base = result["baseline"]
        waits = sum(base["waits"])
        print(
            f"| {label} | {base['contacts']:,} | {base['wall']:.1f} s"
            + (f" + {waits:,.0f} s waiting" if waits else "")
            + f" | {base['calls']:,} ({kinds(base['by_kind'])}) |"
        )
    for label, _provider, result in results:
        for part in ("first", "day"):
            if part in result:
                run = result[part]
                print(
                    f"\n{label} {part}: state {run['state'] if 'state' in run else '-'}"
                    f", members {run.get('members', '-')}, waits {run['waits']},"
                    f" peak connections {run['peak_in_flight']},"
                    f" contacts by state {run['minimum']['detail']}"
                    + (
                        f", last error {run['last_error']}"
                        if run.get("last_error")
                        else ""
                    )
                )
    if confirm:
        print(
            f"\nConfirming one order ({confirm['runs']} runs each, median), with"
            f" {confirm['connections']} connections and without any:"
        )
        print("\n| | without connections | with | added |")
        print("|---|---:|---:|---:|")
        print(
            f"| action_confirm() + flush | {confirm['without'] * 1000:.2f} ms"
            f" | {confirm['with'] * 1000:.2f} ms"
            f" | {(confirm['with'] - confirm['without']) * 1000:+.2f} ms |"
        )
        print(
            f"| SQL statements | {confirm['statements_without']}"
            f" | {confirm['statements_with']} | |"
        )


def runs():
    """(label, provider, shell variables): each provider as it is (first
    sync, then a day of changes); then the what-ifs of the model's side
    (pages a job), of Mailchimp's batch operations (none: one request per
    update and archive) and of Mailchimp's connections (the client's
    default 4, then 10, Mailchimp's maximum per account)."""
    for provider in PROVIDERS:
        label = provider.capitalize()
        yield label, provider, {}
        # Brevo's jobs send ten pages already (one import of 10 000).
        if provider == "mailchimp" and WHAT_IF_PAGES > 1:
            yield (
                f"{label}, {WHAT_IF_PAGES} pages a job",
                provider,
                {"BENCH_PAGES_PER_JOB": str(WHAT_IF_PAGES)},
            )
        if provider == "mailchimp" and WHAT_IF_DIRECT:
            yield (
                f"{label}, no batch operations",
                provider,
                {"BENCH_MAILCHIMP_BATCH_FROM": str(10**9)},
            )
        if provider == "mailchimp" and WHAT_IF_CONNECTIONS:
            yield (
                f"{label}, {WHAT_IF_CONNECTIONS} connections",
                provider,
                {"BENCH_MAILCHIMP_CONNECTIONS": str(WHAT_IF_CONNECTIONS)},
            )


def main():
    env = odoo_env_from_environ()
    cli = OdooCli(env, f"coop_bench_{secrets.token_hex(4)}")
    print(f"creating database {cli.db_name} ...", flush=True)
    code, log = cli.run("-i", ADDON, "--stop-after-init", "--without-demo=all")
    if code:
        sys.exit(f"install failed:\n{log[-2000:]}")
    try:
        setup = odoo_shell(cli, "setup")
        db = Database(env["db"], cli.db_name)
        print(f"generating {BUYERS:,} buyers ...", flush=True)
        buyers = generate(db, setup)
        results = []
        with tempfile.TemporaryDirectory() as folder:
            for day, (label, provider, variables) in enumerate(runs(), 1):
                changes = Path(folder) / f"day{day}.json"
                changes.write_text(json.dumps(a_day_of_changes(db, setup, day)))
                variables = {**variables, "BENCH_DAY": str(changes)}
                print(f"{label} ...", flush=True)
                settle(db)
                result = odoo_shell(
                    cli,
                    "sync",
                    BENCH_PROVIDER=provider,
                    BENCH_SETUP=json.dumps(setup),
                    **variables,
                )
                results.append((label, provider, result))
                print(f"  {json.dumps(result)}", flush=True)  # kept if a run fails
        print("timing the confirmations ...", flush=True)
        confirm = odoo_shell(cli, "confirm")
        db.connection.close()
        report(buyers, results, confirm)
    finally:
        cli.drop()


if __name__ == "__main__":
    main()
