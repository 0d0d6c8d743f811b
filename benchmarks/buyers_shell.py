# Run inside `odoo shell` by buyers.py (env is Odoo's). BENCH_STEP=setup
# creates the shops, the sale cycles and the API key of the benchmark;
# BENCH_STEP=confirm times confirming 1 and 1 000 orders with and without
# the buyer table's maintenance. Prints one BENCH_RESULT JSON line.
import json
import os
import statistics
import time
from datetime import datetime, timedelta

from odoo import sql_db

STEP = os.environ["BENCH_STEP"]
SHOPS = int(os.environ.get("BENCH_SHOPS", "3"))
CYCLES = int(os.environ.get("BENCH_CYCLES", "50"))
TRIGGER = "coop_buyer_sale_order_update"
cr = env.cr  # noqa: F821 - given by odoo shell


def setup():
    main = env.ref("base.main_company")  # noqa: F821
    shops = main | env["res.company"].create(  # noqa: F821
        [{"name": f"Bench shop {n}"} for n in range(2, SHOPS + 1)]
    )
    # The cycles of the last year, one shop after the other; the last one
    # closed two days ago.
    now = datetime.utcnow()
    cycles = env["coop.sale.cycle"].create(  # noqa: F821
        [
            {
                "name": f"Bench cycle {n}",
                "company_id": shops[n % SHOPS].id,
                "date_open": now - timedelta(days=365 - n * 360 / CYCLES),
                "date_close": now - timedelta(days=358 - n * 360 / CYCLES),
            }
            for n in range(CYCLES)
        ]
    )
    user = env["res.users"].create(  # noqa: F821
        {
            "name": "Bench newsletter",
            "login": "bench-newsletter",
            "company_id": main.id,
            "company_ids": [(6, 0, shops.ids)],
            "groups_id": [
                (4, env.ref("base.group_user").id),  # noqa: F821
                (4, env.ref("coop_developer_settings.group_developer_settings").id),  # noqa: F821
            ],
        }
    )
    key = (
        env["res.users.apikeys"]  # noqa: F821
        .with_user(user)
        ._generate(None, "Bench", datetime.now() + timedelta(days=2))
    )
    # The API key doubles as the user's password for XML-RPC.
    cr.commit()
    return {"key": key, "login": user.login, "shops": shops.ids, "cycles": cycles.ids}


def timed_confirmation(orders, sql):
    """Seconds to confirm the orders (ORM, or one SQL UPDATE), flushed;
    rolled back afterwards."""
    start = time.perf_counter()
    if sql:
        cr.execute(
            "UPDATE sale_order SET state = 'sale', date_order = now() at time zone"
            " 'UTC' WHERE id = ANY(%s)",
            [orders.ids],
        )
    else:
        orders.action_confirm()
        env.flush_all()  # noqa: F821
    elapsed = time.perf_counter() - start
    cr.rollback()
    env.invalidate_all()  # noqa: F821
    return elapsed


def set_maintenance(enabled):
    # Committed, once per block of runs: DDL invalidates PostgreSQL's cached
    # plans, and a run just after it would pay for planning them again. The
    # rolled-back runs leave dead rows and index entries in the buyer table:
    # vacuumed, as autovacuum would do between real confirmations.
    action = "ENABLE" if enabled else "DISABLE"
    cr.execute(f"ALTER TABLE sale_order {action} TRIGGER {TRIGGER}")
    cr.commit()
    with sql_db.db_connect(cr.dbname).cursor() as vacuum_cr:
        vacuum_cr._cnx.autocommit = True  # VACUUM runs outside transactions
        vacuum_cr.execute("VACUUM coop_buyer")


def confirm():
    partners = env["res.partner"].search(  # noqa: F821
        [("name", "=like", "Customer %")], limit=1000
    )
    orders = env["sale.order"].create(  # noqa: F821
        [{"partner_id": partner.id} for partner in partners]
    )
    cr.commit()
    runs = {
        ("orm", 1): int(os.environ.get("BENCH_RUNS_ONE", "100")),
        ("orm", 1000): 5,
        ("sql", 1): 200,
        ("sql", 1000): 20,
    }
    samples = {(kind, count, on): [] for kind, count in runs for on in (True, False)}
    try:
        # Ten blocks, with and without the maintenance in turn, so that both
        # see the same moments of a shared machine; each block's first run
        # (planning again after the DDL, caches) is left out.
        for block in range(10):
            maintenance = block % 2 == 0
            set_maintenance(maintenance)
            for (kind, count), repeat in runs.items():
                for run in range(repeat // 5 + 1):
                    batch = orders[(block * repeat + run) * count % 1000 :][:count]
                    elapsed = timed_confirmation(batch, sql=kind == "sql")
                    if run:
                        samples[kind, count, maintenance].append(elapsed)
    finally:
        set_maintenance(True)
        env["sale.order"].browse(orders.ids).unlink()  # noqa: F821
        cr.commit()
    return {
        f"{kind}_{count}": {
            "with": statistics.median(samples[kind, count, True]),
            "without": statistics.median(samples[kind, count, False]),
        }
        for kind, count in runs
    }


print("BENCH_RESULT " + json.dumps({"setup": setup, "confirm": confirm}[STEP]()))
