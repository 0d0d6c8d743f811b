#!/usr/bin/env python3
"""Buyer list benchmark: the maintained table against the SQL view of before.

Generates in SQL (generate_series, no ORM) confirmed orders over customers
(10 orders per customer), 3 shops, 50 cycles, 2 % of the addresses
blacklisted, at each size of BENCH_BUYERS_SIZES (default 100 000 then
1 000 000 orders). At each size, against a server started like `make run`:
the API page p50/p95 per filter over HTTP, the full sync at limit 200 and
1 000, the incremental 1-day sync, an XML-RPC page; first on the table, then
on the SQL view of earlier versions, swapped in for it in the same database
(the baseline, same run, same server, same code). Then what the table's
maintenance adds to confirming 1 and 1 000 orders. Prints tables. Run with
`make bench BENCH=buyers`.
"""

import importlib.util
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import xmlrpc.client
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness import (  # noqa: E402
    ADDON,
    DEV_LOGS,
    ROOT,
    OdooCli,
    OdooServer,
    odoo_env_from_environ,
)

HERE = Path(__file__).resolve().parent

# The tests' reference (the view of before): harness puts the addon tests'
# folder on the path.
from buyer_reference import REFERENCE_QUERY  # noqa: E402

SIZES = [
    int(n) for n in os.environ.get("BENCH_BUYERS_SIZES", "100000,1000000").split(",")
]
ORDERS_PER_CUSTOMER = 10
SHOPS = 3
CYCLES = 50
SAMPLES = {"table": int(os.environ.get("BENCH_TABLE_SAMPLES", "200")), "view": 5}
WARM_UP_PAGES = 20
VIEW_PAGES = 3  # pages of a view listing actually fetched; the rest estimated
URL = "/coop/api/v1/buyers"
REUSE_DB = os.environ.get("BENCH_BUYERS_DB")
PARTS = os.environ.get("BENCH_BUYERS_PARTS", "pages,view,cursor,confirm,bulk").split(
    ","
)
BULK_SIZES = [
    int(n)
    for n in os.environ.get("BENCH_BULK_SIZES", "1,100,10000,100000,1000000").split(",")
]


def load_plain(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The addon's SQL (the rebuild): a plain module, but in models/, whose
# package imports Odoo, so loaded by path.
BUYER_SQL = load_plain("buyer_sql", ROOT / ADDON / "models" / "coop_buyer_sql.py")

# The view of before, with the table's columns, swapped in for the table.
SWAP_TO_VIEW = f"""
    ALTER TABLE coop_buyer RENAME TO coop_buyer_table;
    CREATE VIEW coop_buyer AS
        SELECT id, company_id, partner_id, name, email,
               NULL::varchar AS email_normalized, phone,
               first_order_date, last_order_date, order_count::integer,
               last_cycle_id, opt_out, TRUE AS active, updated_at,
               NULL::xid8 AS write_xid
          FROM ({REFERENCE_QUERY}) AS reference;
"""
SWAP_TO_TABLE = """
    DROP VIEW coop_buyer;
    ALTER TABLE coop_buyer_table RENAME TO coop_buyer;
"""
MAINTENANCE_TRIGGERS = [
    (table, name)
    for name, table, *_rest in BUYER_SQL.TRIGGERS
    if table in ("sale_order", "mail_blacklist")
]


class Database:
    def __init__(self, settings, name):
        self.name = name
        self.connection = psycopg2.connect(
            dbname=name,
            host=settings.get("db_host"),
            port=settings.get("db_port"),
            user=settings.get("db_user"),
            password=settings.get("db_password"),
        )
        self.connection.autocommit = True

    def run(self, sql, params=None):
        with self.connection.cursor() as cr:
            cr.execute(sql, params)
            return cr.fetchall() if cr.description else cr.rowcount

    def value(self, sql, params=None):
        return self.run(sql, params)[0][0]

    def timed(self, sql, params=None):
        start = time.perf_counter()
        self.run(sql, params)
        return time.perf_counter() - start


def odoo_shell(cli, step):
    result = subprocess.run(
        [cli.bin, "shell", "-c", cli.config, "-d", cli.db_name, "--no-http"],
        input=(HERE / "buyers_shell.py").read_text(),
        capture_output=True,
        text=True,
        env=dict(os.environ, BENCH_STEP=step, BENCH_SHOPS=str(SHOPS)),
        check=False,
    )
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_RESULT ")]
    if not lines:
        sys.exit(f"odoo shell step {step} failed:\n{result.stderr[-3000:]}")
    return json.loads(lines[-1].split(" ", 1)[1])


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------


def prepare_generation(db, setup):
    db.run(
        "CREATE TABLE bench_shop (idx int PRIMARY KEY, company_id int, cycle_count int)"
    )
    db.run(
        "CREATE TABLE bench_cycle (company_id int, k int, id int, date_open timestamp,"
        " PRIMARY KEY (company_id, k))"
    )
    db.run("CREATE TABLE bench_customer (n int PRIMARY KEY, partner_id int, shop int)")
    db.run(
        """INSERT INTO bench_cycle
           SELECT company_id,
                  row_number() OVER (PARTITION BY company_id ORDER BY id) - 1,
                  id, date_open
             FROM coop_sale_cycle WHERE id = ANY(%s)""",
        [setup["cycles"]],
    )
    db.run(
        """INSERT INTO bench_shop
           SELECT idx - 1, company_id,
                  (SELECT count(*) FROM bench_cycle c WHERE c.company_id = s.company_id)
             FROM unnest(%s::int[]) WITH ORDINALITY AS s(company_id, idx)""",
        [setup["shops"]],
    )


# Confirmed orders numbered first..last (named prefix + number), over the
# customers: each buys in their shop (3 % of orders elsewhere); 80 % of the
# orders in one of the shop's cycles, during it; the others any day of the
# last year.
ORDERS = """WITH drawn AS MATERIALIZED (
       SELECT n, 1 + floor(random() * %(customers)s)::int AS customer,
              random() AS r_shop, random() AS r_cycle, random() AS r_date
         FROM generate_series(%(first)s, %(last)s) AS n
   )
   INSERT INTO sale_order (name, company_id, partner_id, partner_invoice_id,
                           partner_shipping_id, date_order, state,
                           sale_cycle_id, create_date, write_date,
                           amount_total, invoice_status, locked)
   SELECT %(prefix)s || d.n, s.company_id, c.partner_id, c.partner_id,
          c.partner_id, o.date_order, 'sale', cy.id, o.date_order,
          o.date_order + interval '5 minutes', 25.0, 'to invoice', FALSE
     FROM drawn d
     JOIN bench_customer c ON c.n = d.customer
     JOIN bench_shop s ON s.idx = CASE WHEN d.r_shop < 0.03
                                       THEN floor(d.r_shop / 0.03 * %(shops)s)
                                       ELSE c.shop END
     LEFT JOIN bench_cycle cy
            ON cy.company_id = s.company_id AND d.r_cycle < 0.8
           AND cy.k = floor(d.r_cycle / 0.8 * s.cycle_count)
     CROSS JOIN LATERAL (
         SELECT COALESCE(cy.date_open + d.r_date * interval '7 days',
                         now() AT TIME ZONE 'UTC'
                         - d.r_date * interval '365 days') AS date_order
     ) AS o"""


def add_customers(db, have_customers, customers):
    """Customers have_customers + 1 .. customers, 2 % of them blacklisted."""
    last_partner = db.value("SELECT max(id) FROM res_partner")
    db.run(
        """INSERT INTO res_partner (name, complete_name, email, email_normalized,
                                    phone, active, type, is_company, autopost_bills,
                                    partner_share, lang, create_date, write_date)
           SELECT 'Customer ' || n, 'Customer ' || n, 'Customer' || n || '@Example.org',
                  'customer' || n || '@example.org', '+33 1 ' || lpad(n::text, 8, '0'),
                  TRUE, 'contact', FALSE, 'ask', TRUE, 'en_US',
                  now() AT TIME ZONE 'UTC' - interval '400 days',
                  now() AT TIME ZONE 'UTC' - random() * interval '365 days'
             FROM generate_series(%s, %s) AS n""",
        [have_customers + 1, customers],
    )
    db.run(
        """INSERT INTO bench_customer
           SELECT n, id, n %% %s
             FROM (SELECT id, %s + row_number() OVER (ORDER BY id) AS n
                     FROM res_partner WHERE id > %s) AS new""",
        [SHOPS, have_customers, last_partner],
    )
    db.run(
        """UPDATE res_partner p SET commercial_partner_id = p.id
             FROM bench_customer c
            WHERE c.partner_id = p.id AND p.commercial_partner_id IS NULL"""
    )
    db.run(
        """INSERT INTO mail_blacklist (email, active, create_date, write_date)
           SELECT 'customer' || n || '@example.org', TRUE, now(), now()
             FROM generate_series(%s, %s) AS n WHERE n %% 50 = 0""",
        [have_customers + 1, customers],
    )


def grow(db, orders):
    """Add customers and confirmed orders up to ``orders`` orders."""
    customers = orders // ORDERS_PER_CUSTOMER
    have_customers = db.value("SELECT count(*) FROM bench_customer")
    have_orders = db.value("SELECT count(*) FROM sale_order WHERE name LIKE 'BENCH/%'")
    if have_orders >= orders:  # a kept database (BENCH_BUYERS_DB)
        return {
            "orders": db.value("SELECT count(*) FROM sale_order WHERE state = 'sale'"),
            "customers": customers,
            "buyers": db.value("SELECT count(*) FROM coop_buyer WHERE active"),
            "generation": None,
            "fill": None,
        }
    for table, trigger in MAINTENANCE_TRIGGERS:
        db.run(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    started = time.perf_counter()
    add_customers(db, have_customers, customers)
    db.run(
        ORDERS,
        {
            "prefix": "BENCH/",
            "customers": customers,
            "first": have_orders + 1,
            "last": orders,
            "shops": SHOPS,
        },
    )
    for table, trigger in MAINTENANCE_TRIGGERS:
        db.run(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
    generated = time.perf_counter() - started
    db.run("VACUUM ANALYZE sale_order")
    db.run("VACUUM ANALYZE res_partner")
    db.run("VACUUM ANALYZE mail_blacklist")
    # The install/upgrade fill: the whole table from the orders, in the
    # rebuild's two set-based statements.
    db.run("TRUNCATE coop_buyer")
    fill = db.timed(
        f"BEGIN; {BUYER_SQL.REBUILD_UPSERT}; {BUYER_SQL.REBUILD_TOMBSTONE}; COMMIT;"
    )
    db.run("VACUUM ANALYZE coop_buyer")
    return {
        "orders": db.value("SELECT count(*) FROM sale_order WHERE state = 'sale'"),
        "customers": customers,
        "buyers": db.value("SELECT count(*) FROM coop_buyer WHERE active"),
        "generation": generated,
        "fill": fill,
    }


def a_day_of_changes(db, setup):
    """In 120 transactions: 2 400 new orders, 300 cancellations, about 100
    new opt-outs, 240 renamed customers (the triggers on)."""
    customers = db.value("SELECT count(*) FROM bench_customer")
    first, last = db.run(
        "SELECT min(id), max(id) FROM sale_order WHERE name LIKE 'BENCH/%'"
    )[0]
    for batch in range(120):
        db.run(
            """BEGIN;
            INSERT INTO sale_order (name, company_id, partner_id, partner_invoice_id,
                                    partner_shipping_id, date_order, state,
                                    create_date, write_date)
            SELECT 'DAY/' || %(batch)s || '/' || d.n, %(shop)s, c.partner_id,
                   c.partner_id, c.partner_id, now(), 'sale', now(), now()
              FROM (SELECT n, 1 + floor(random() * %(customers)s)::int AS k
                      FROM generate_series(1, 20) AS n) AS d
              JOIN bench_customer c ON c.n = d.k;
            UPDATE sale_order SET state = 'cancel'
             WHERE state = 'sale' AND id IN (
                 SELECT %(first)s + floor(random() * (%(last)s - %(first)s))::int
                   FROM generate_series(1, 2 + %(batch)s %% 2));
            INSERT INTO mail_blacklist (email, active)
            SELECT p.email_normalized, TRUE
              FROM (SELECT 1 + floor(random() * %(customers)s)::int AS k) AS d
              JOIN bench_customer c ON c.n = d.k
              JOIN res_partner p ON p.id = c.partner_id
            ON CONFLICT (email) DO NOTHING;
            UPDATE res_partner SET name = name || ' (renamed)'
             WHERE id IN (
                 SELECT c.partner_id
                   FROM (SELECT 1 + floor(random() * %(customers)s)::int AS k
                           FROM generate_series(1, 2)) AS d
                   JOIN bench_customer c ON c.n = d.k);
            COMMIT;""",
            {
                "batch": batch,
                "shop": setup["shops"][batch % SHOPS],
                "customers": customers,
                "first": first,
                "last": last,
            },
        )


# ----------------------------------------------------------------------
# Measurements over HTTP and XML-RPC
# ----------------------------------------------------------------------


class Api:
    def __init__(self, server, key):
        self.base = server.url
        self.url = server.url + URL
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def page(self, **params):
        start = time.perf_counter()
        answer = self.session.get(self.url, params=params, timeout=600)
        elapsed = time.perf_counter() - start
        assert answer.status_code == 200, answer.text[:500]
        return answer.json(), elapsed

    def health(self):
        start = time.perf_counter()
        self.session.get(self.base + "/web/health", timeout=60).raise_for_status()
        return time.perf_counter() - start

    def follow(self, max_pages=None, **params):
        """Every page of a listing: (rows, pages fetched, seconds, complete)."""
        rows = pages = 0
        start = time.perf_counter()
        cursor = params.pop("cursor", None)
        while True:
            body, _elapsed = self.page(
                **params, **({"cursor": cursor} if cursor else {})
            )
            rows += len(body["data"])
            pages += 1
            cursor = body["next_cursor"]
            if not cursor:
                return rows, pages, time.perf_counter() - start, True, body
            if max_pages and pages >= max_pages:
                return rows, pages, time.perf_counter() - start, False, body


def percentiles(samples):
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


def page_filters(db, setup, source):
    """The API parameters of each measured filter, for this source."""
    table = "coop_buyer"
    deep = db.value(
        f"SELECT id FROM {table} ORDER BY id OFFSET"
        f" (SELECT count(*) * 9 / 10 FROM {table}) LIMIT 1"
    )
    cycle = setup["cycles"][len(setup["cycles"]) // 2]
    since = datetime.now(timezone.utc) - timedelta(days=1)
    return {
        "first page": {},
        "deep cursor (90 %)": {"cursor": str(deep)},
        "company_id": {"company_id": setup["shops"][1]},
        "cycle_id": {"cycle_id": cycle},
        "updated_since 1 day": {"updated_since": since.isoformat()},
    }


def page_queries(db, setup, params):
    """The SQL the API runs for a page of 200 with these parameters (as the
    ORM writes it: record rule, active and opt-out conditions, id order)."""
    conditions = [f"id > {int(params.get('cursor', 0))}"]
    conditions.append(f"company_id IN ({', '.join(map(str, setup['shops']))})")
    if "company_id" in params:
        conditions.append(f"company_id = {int(params['company_id'])}")
    if "cycle_id" in params:
        cycle = int(params["cycle_id"])
        company = db.value(
            "SELECT company_id FROM coop_sale_cycle WHERE id = %s", [cycle]
        )
        conditions.append(
            f"company_id = {company} AND partner_id IN (SELECT partner_id FROM"
            f" sale_order WHERE sale_cycle_id = {cycle} AND state = 'sale')"
        )
    if "updated_since" in params:
        since = datetime.fromisoformat(params["updated_since"]).astimezone(timezone.utc)
        conditions.append(f"updated_at >= '{since.replace(tzinfo=None)}'")
    elif "since" in params:
        conditions.append(f"write_xid >= '{params['since']}'::xid8")
    else:
        conditions += ["active", "(opt_out IS NULL OR NOT opt_out)"]
    columns = ", ".join(BUYER_SQL.CONTENT_COLUMNS)
    return (
        f"SELECT id, partner_id, company_id, {columns} FROM coop_buyer"
        f" WHERE {' AND '.join(conditions)} ORDER BY id LIMIT 201"
    )


def sql_time(db, sql, samples):
    """p50/p95 of the query's execution time, as EXPLAIN ANALYZE measures it."""
    times = []
    for _n in range(samples):
        plan = db.run(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")[0][0][0]
        times.append((plan["Planning Time"] + plan["Execution Time"]) / 1000)
    return percentiles(times)


def measure(db, server, setup, source, full_rows=None):
    api = Api(server, setup["key"])
    result = {"pages": {}}
    samples = SAMPLES[source]
    # Every worker's first pages are slower (a worker fills its caches):
    # enough pages for each of them to serve some.
    for _n in range(WARM_UP_PAGES):
        api.page(limit=200)
    # Odoo's own cost of a request, with no work in it, the floor of a page:
    # one before each page, so that both see the same moments of the machine.
    result["sql"], result["floors"], floor = {}, {}, []
    for name, params in page_filters(db, setup, source).items():
        times, floors = [], []
        for _n in range(samples):
            floors.append(api.health())
            times.append(api.page(limit=200, **params)[1])
        floor += floors
        result["pages"][name] = percentiles(times)
        result["floors"][name] = percentiles(floors)
        result["sql"][name] = sql_time(db, page_queries(db, setup, params), samples)
    result["floor"] = percentiles(floor)
    for limit in (200, 1000):
        max_pages = None if source == "table" else VIEW_PAGES
        rows, pages, seconds, complete, _body = api.follow(
            max_pages=max_pages, limit=limit
        )
        if not complete:  # the view: the pages left, at the same pace
            total = full_rows[limit]
            pages_total = -(-total // limit)
            seconds, rows, pages = seconds * pages_total / pages, total, pages_total
        result[f"full {limit}"] = {"rows": rows, "pages": pages, "seconds": seconds}
    since = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    rows, pages, seconds, complete, _body = api.follow(limit=200, updated_since=since)
    result["incremental"] = {"rows": rows, "pages": pages, "seconds": seconds}
    result["xmlrpc"] = xmlrpc_page(server, setup, samples)
    return result


def xmlrpc_page(server, setup, samples):
    common = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/common")
    uid = common.authenticate(server.db, setup["login"], setup["key"], {})
    models = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object", allow_none=True)
    times = []
    for _n in range(samples):
        start = time.perf_counter()
        models.execute_kw(
            server.db,
            uid,
            setup["key"],
            "coop.buyer",
            "search_read",
            [[]],
            {
                "fields": ["name", "email", "company_id", "last_order_date"]
                + ["last_cycle_id", "opt_out"],
                "limit": 200,
                "order": "id",
            },
        )
        times.append(time.perf_counter() - start)
    return percentiles(times)


def incremental_by_cursor(db, server, setup):
    """A day of changes in 120 transactions, then the sync from the cursor
    the tool kept: its pages, the buyers it returns, the time."""
    api = Api(server, setup["key"])
    body, _elapsed = api.page(limit=1)
    a_day_of_changes(db, setup)
    rows, pages, seconds, _complete, _body = api.follow(
        limit=200, cursor=body["sync_cursor"]
    )
    page_times = percentiles(
        [api.page(limit=200, cursor=body["sync_cursor"])[1] for _n in range(50)]
    )
    since = body["sync_cursor"].split(".")[1]
    query = sql_time(db, page_queries(db, setup, {"since": since}), 50)
    return {
        "rows": rows,
        "pages": pages,
        "seconds": seconds,
        "page": page_times,
        "sql": query,
    }


# ----------------------------------------------------------------------
# Bulk load: one INSERT of N orders, with and without the triggers
# ----------------------------------------------------------------------

ORDER_INSERT_TRIGGER = "coop_buyer_sale_order_insert"


def bulk_runs(size):
    """Timed runs of each kind at this size."""
    return {1: 100, 100: 40, 10_000: 6}.get(size, 1)


def bulk_insert(db, size, triggers, customers):
    """Seconds of one INSERT of ``size`` confirmed orders, in a transaction
    rolled back afterwards; the buyer triggers on or disabled (in the same
    transaction, before the clock starts; the table's description is read
    again after that DDL before the clock too)."""
    db.run("BEGIN")
    try:
        if not triggers:
            db.run(f"ALTER TABLE sale_order DISABLE TRIGGER {ORDER_INSERT_TRIGGER}")
            db.run("SELECT FROM sale_order LIMIT 0")
        return db.timed(
            ORDERS,
            {
                "prefix": "LOAD/",
                "customers": customers,
                "first": 1,
                "last": size,
                "shops": SHOPS,
            },
        )
    finally:
        db.run("ROLLBACK")


def quartiles(samples):
    """(p50, p25, p75)."""
    samples = sorted(samples)
    return tuple(
        samples[min(len(samples) - 1, int(q * len(samples)))] for q in (0.5, 0.25, 0.75)
    )


def bulk_size(db, bare_db, size, customers):
    """The INSERT at this size: (bare, with the triggers), each (p50, p25,
    p75) in seconds, and the load average before and after.

    Below 100 000 orders, the two kinds run in turn, run after run, each on
    a connection of its own: the bare runs disable the trigger in their
    transaction, which is rolled back, so the other connection never sees
    that DDL and keeps its plans of the refresh, as a session importing in
    a loop does; 3 runs of each first, left out. From 100 000 orders, one
    run of each kind, the bare one first, then VACUUM: a rolled-back load
    leaves its dead rows and index entries, which would slow the next run.
    """
    load = os.getloadavg()[0]
    times = {False: [], True: []}
    if size >= 100_000:
        for triggers in (False, True):
            times[triggers].append(bulk_insert(db, size, triggers, customers))
            db.run("VACUUM sale_order")
            db.run("VACUUM coop_buyer")
    else:
        for run in range(bulk_runs(size) + 3):
            for triggers in (False, True) if run % 2 else (True, False):
                elapsed = bulk_insert(
                    db if triggers else bare_db, size, triggers, customers
                )
                if run >= 3:
                    times[triggers].append(elapsed)
    return (
        quartiles(times[False]),
        quartiles(times[True]),
        (load, os.getloadavg()[0]),
    )


def order_statistics(db):
    """What the planner knows of sale_order: its estimated rows and the
    number of its columns with statistics."""
    return db.run(
        """SELECT reltuples::bigint,
                  (SELECT count(*) FROM pg_stats
                    WHERE schemaname = 'public' AND tablename = 'sale_order')
             FROM pg_class WHERE oid = 'sale_order'::regclass"""
    )[0]


@contextmanager
def fresh_copy(db_settings, template):
    """A copy of the freshly installed ``template``: an empty buyer table,
    the statistics of empty tables, kept so between the runs (autovacuum
    off for the two tables)."""
    admin = Database(db_settings, "postgres")
    copy = f"{template}_copy"
    admin.run(f"DROP DATABASE IF EXISTS {copy}")
    admin.run(f"CREATE DATABASE {copy} TEMPLATE {template}")
    db = Database(db_settings, copy)
    try:
        for table in ("sale_order", "coop_buyer"):
            db.run(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        yield db
    finally:
        db.connection.close()
        admin.run(f"DROP DATABASE IF EXISTS {copy}")
        admin.connection.close()


def bulk_load(db_settings, fresh_template, big_db):
    """The bulk load at each size: into a freshly installed database (copies
    of ``fresh_template``: one per size, one per kind of run from 100 000
    orders), then into the database of 1 000 000 orders."""
    template = Database(db_settings, fresh_template)
    customers = template.value("SELECT count(*) FROM bench_customer")
    template.connection.close()
    results = {"fresh": {}, "large": {}}
    for size in BULK_SIZES:
        print(f"  fresh install, {size:,} orders", flush=True)
        if size < 100_000:
            with fresh_copy(db_settings, fresh_template) as db:
                stats = order_statistics(db)
                bare_db = Database(db_settings, db.name)
                try:
                    measured = bulk_size(db, bare_db, size, customers)
                finally:
                    bare_db.connection.close()
        else:
            times, load = {}, os.getloadavg()[0]
            for kind in (False, True):
                with fresh_copy(db_settings, fresh_template) as db:
                    stats = order_statistics(db)
                    times[kind] = (bulk_insert(db, size, kind, customers),) * 3
            measured = (times[False], times[True], (load, os.getloadavg()[0]))
        results["fresh"][size] = (*measured, stats)
        print(f"    {results['fresh'][size]}", flush=True)
    bare_db = Database(db_settings, big_db.name)
    for size in BULK_SIZES:
        stats = order_statistics(big_db)
        print(f"  1 000 000 orders, {size:,} more", flush=True)
        results["large"][size] = (*bulk_size(big_db, bare_db, size, customers), stats)
        print(f"    {results['large'][size]}", flush=True)
    bare_db.connection.close()
    return results


def fresh_template(cli, db_settings, customers):
    """A freshly installed database with ``customers`` customers and no
    order: the template of the bulk load's fresh installs (kept with
    BENCH_BUYERS_DB)."""
    name = f"{cli.db_name}_fresh"
    if REUSE_DB and database_exists(db_settings, name):
        return name
    fresh = OdooCli(odoo_env_from_environ(), name, workers="2", max_cron_threads="0")
    install(fresh, db_settings)
    db = Database(db_settings, name)
    add_customers(db, 0, customers)
    db.connection.close()
    Path(fresh.config).unlink(missing_ok=True)
    return name


# ----------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------


def ms(seconds):
    if seconds < 0.01:
        return f"{seconds * 1000:.2f} ms"
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def pair(times):
    return f"{ms(times[0])} / {ms(times[1])}"


def sync_cell(run, estimated=False):
    rate = run["rows"] / run["seconds"] if run["seconds"] else 0
    mark = " (est.)" if estimated else ""
    return f"{ms(run['seconds'])}{mark}, {rate:,.0f} buyers/s ({run['pages']} pages)"


def report(sizes, bulk):
    for size in sizes:
        data = size["data"]
        print(
            f"\n### {data['orders']:,} confirmed orders, {data['customers']:,} "
            f"customers, {data['buyers']:,} buyers\n"
        )
        if data["generation"] is not None:
            print(
                f"generation {data['generation']:.1f} s; install fill of the table "
                f"(two set-based statements) {data['fill']:.1f} s"
            )
        print(f"machine load average when measuring began {data['load']:.1f}\n")
        if size.get("table"):
            pages_report(size["table"])
        if size.get("view"):
            view_report(size["table"], size["view"], size.get("cursor"))
        if size.get("confirm"):
            confirm_report(size["confirm"])
    if bulk:
        bulk_report(bulk)


def pages_report(table):
    print(
        f"API pages of 200, {SAMPLES['table']} per filter, each after a GET "
        "/web/health (the floor, measured alongside)\n"
    )
    print("| filter | page p50 / p95 | floor p50 / p95 | page p95 ÷ floor p95 |")
    print("|---|---:|---:|---:|")
    for name, page in table["pages"].items():
        floor = table["floors"][name]
        print(f"| {name} | {pair(page)} | {pair(floor)} | {page[1] / floor[1]:.2f} |")
    print(f"| all filters' floor | | {pair(table['floor'])} | |")


def view_report(table, view, cursor):
    print("\n| work | view (before) | table |")
    print("|---|---:|---:|")
    print(
        "| Odoo's floor: GET /web/health, p50 / p95 "
        f"| {pair(view['floor'])} | {pair(table['floor'])} |"
    )
    for name in table["pages"]:
        print(
            f"| API page, limit 200, {name}, p50 / p95 "
            f"| {pair(view['pages'][name])} | {pair(table['pages'][name])} |"
        )
    for name in table["sql"]:
        print(
            f"| its SQL query, {name}, p50 / p95 "
            f"| {pair(view['sql'][name])} | {pair(table['sql'][name])} |"
        )
    for limit in (200, 1000):
        key = f"full {limit}"
        print(
            f"| full sync, limit {limit} | {sync_cell(view[key], estimated=True)} "
            f"| {sync_cell(table[key])} |"
        )
    print(
        f"| incremental, updated_since 1 day ({table['incremental']['rows']:,} "
        f"buyers), limit 200 | {sync_cell(view['incremental'])} "
        f"| {sync_cell(table['incremental'])} |"
    )
    if cursor:
        print(
            f"| incremental, sync cursor after a day of changes "
            f"({cursor['rows']:,} buyers), limit 200 | - | {sync_cell(cursor)} |"
        )
        page = pair(cursor["page"])
        print(f"| API page from that sync cursor, p50 / p95 | - | {page} |")
        print(f"| its SQL query, p50 / p95 | - | {pair(cursor['sql'])} |")
    print(
        f"| XML-RPC search_read, 200, p50 / p95 | {pair(view['xmlrpc'])} "
        f"| {pair(table['xmlrpc'])} |"
    )


def bulk_report(bulk):
    print(
        "\n| one INSERT of | into | sale_order as planned (rows, columns with"
        " statistics) | load average | triggers disabled, p50 (p25–p75) |"
        " with the triggers, p50 (p25–p75) | ratio of the p50s |"
    )
    print("|---:|---|---|---|---:|---:|---:|")
    for where, label in (("fresh", "a fresh install"), ("large", "1 000 000 orders")):
        for size, (bare, triggers, load, stats) in bulk[where].items():
            print(
                f"| {int(size):,} | {label} | {stats[0]:,}, {stats[1]} "
                f"| {load[0]:.1f}–{load[1]:.1f} | {spread(bare)} | {spread(triggers)} "
                f"| {triggers[0] / bare[0]:.2f} |"
            )


def spread(times):
    if times[1] == times[2]:
        return ms(times[0])
    return f"{ms(times[0])} ({ms(times[1])}–{ms(times[2])})"


def confirm_report(confirm):
    print("\n| confirming | without maintenance | with | added |")
    print("|---|---:|---:|---:|")
    for key, label in (
        ("orm_1", "1 order, action_confirm() + flush"),
        ("orm_1000", "1 000 orders, one action_confirm() + flush"),
        ("sql_1", "1 order, one SQL UPDATE"),
        ("sql_1000", "1 000 orders, one SQL UPDATE"),
    ):
        run = confirm[key]
        print(
            f"| {label} | {run['without'] * 1000:.2f} ms | {run['with'] * 1000:.2f} ms "
            f"| {(run['with'] - run['without']) * 1000:+.2f} ms |"
        )


def install(cli, db_settings):
    """A freshly installed database of the addon (no demo data), with the
    benchmark's shops, cycles and key; returns the setup."""
    print(f"creating database {cli.db_name} ...", flush=True)
    code, log = cli.run("-i", ADDON, "--stop-after-init", "--without-demo=all")
    if code:
        sys.exit(f"install failed:\n{log[-2000:]}")
    setup = odoo_shell(cli, "setup")
    db = Database(db_settings, cli.db_name)
    prepare_generation(db, setup)
    db.run("CREATE TABLE bench_setup (setup jsonb)")
    db.run("INSERT INTO bench_setup VALUES (%s)", [json.dumps(setup)])
    db.connection.close()
    return setup


def database_exists(db_settings, name):
    return bool(
        Database(db_settings, "postgres").value(
            "SELECT count(*) FROM pg_database WHERE datname = %s", [name]
        )
    )


def main():
    env = odoo_env_from_environ()
    # BENCH_BUYERS_DB: a database kept between runs (created on the first,
    # its orders reused when it already holds the size asked for).
    name = REUSE_DB or f"coop_bench_{secrets.token_hex(4)}"
    cli = OdooCli(env, name, workers="2", max_cron_threads="0")
    if REUSE_DB and database_exists(env["db"], name):
        setup = Database(env["db"], name).value("SELECT setup FROM bench_setup")
    else:
        setup = install(cli, env["db"])
    sizes, bulk = [], None
    try:
        db = Database(env["db"], cli.db_name)
        server = OdooServer(cli, DEV_LOGS / f"{cli.db_name}-server.log")
        if {"pages", "view", "cursor"} & set(PARTS):
            server.start()
        try:
            for orders in SIZES:
                print(f"generating {orders:,} orders ...", flush=True)
                data = grow(db, orders)
                print(f"  {data}", flush=True)
                data["load"] = os.getloadavg()[0]
                size = {"data": data}
                if "pages" in PARTS:
                    print("measuring the table ...", flush=True)
                    size["table"] = measure(db, server, setup, "table")
                if "view" in PARTS:
                    print("measuring the view (the baseline) ...", flush=True)
                    db.run(f"BEGIN; {SWAP_TO_VIEW} COMMIT;")
                    try:
                        full_rows = {
                            limit: size["table"][f"full {limit}"]["rows"]
                            for limit in (200, 1000)
                        }
                        size["view"] = measure(db, server, setup, "view", full_rows)
                    finally:
                        db.run(f"BEGIN; {SWAP_TO_TABLE} COMMIT;")
                if "cursor" in PARTS:
                    print("a day of changes, then the sync cursor ...", flush=True)
                    size["cursor"] = incremental_by_cursor(db, server, setup)
                sizes.append(size)
            server.stop()
            if "bulk" in PARTS:
                print("bulk load ...", flush=True)
                bulk = bulk_load(
                    env["db"],
                    fresh_template(cli, env["db"], SIZES[-1] // ORDERS_PER_CUSTOMER),
                    db,
                )
            if "confirm" in PARTS:
                print("timing the confirmations ...", flush=True)
                sizes[-1]["confirm"] = odoo_shell(cli, "confirm")
        finally:
            server.stop()
        db.connection.close()
        report(sizes, bulk)
    finally:
        if not REUSE_DB:
            cli.drop()
            Database(env["db"], "postgres").run(
                f"DROP DATABASE IF EXISTS {cli.db_name}_fresh"
            )


if __name__ == "__main__":
    main()
