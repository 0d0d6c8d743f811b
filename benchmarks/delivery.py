#!/usr/bin/env python3
"""Delivery benchmark: throughput, latency and worker memory, end to end.

A server started like `make run` (workers, queue_job's runner), a local
receiver answering at once, cycles opened over XML-RPC. Baselines measured in
the same run: a bare queue_job job that only POSTs (Odoo's own webhook server
action run through with_delay, no signing, no log), and a plain `requests`
loop to the same receiver (the machine's HTTP limit). Prints tables. Run with
`make bench BENCH=delivery`.
"""

import os
import secrets
import sys
import threading
import time
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness import (  # noqa: E402
    ADDON,
    ADMIN,
    DEV_LOGS,
    GROUP_XMLID,
    OdooCli,
    OdooServer,
    Rpc,
    cycle_values,
    odoo_env_from_environ,
)
from receiver import Receiver  # noqa: E402

TOTALS = [int(n) for n in os.environ.get("BENCH_TOTALS", "1000,10000").split(",")]
CAPACITIES = [int(n) for n in os.environ.get("BENCH_CAPACITIES", "2,4").split(",")]
OPENINGS = int(os.environ.get("BENCH_LATENCY_OPENINGS", "200"))
CYCLES_PER_RUN = 10


class CountingReceiver(Receiver):
    """Records only arrival times: the receiver must not be the bottleneck."""

    def __init__(self):
        super().__init__((200, {}, 0))
        self.arrivals = []
        handler = self.server.RequestHandlerClass
        arrivals = self.arrivals

        def do_post(this):
            this.rfile.read(int(this.headers.get("Content-Length", 0)))
            arrivals.append(time.monotonic())
            this.send_response(200)
            this.send_header("Content-Length", "0")
            this.end_headers()

        handler.do_POST = do_post


def open_cycles(admin, count):
    ids = admin(
        "coop.sale.cycle", "create", [cycle_values(f"Bench {i}") for i in range(count)]
    )
    started = time.monotonic()
    for cycle_id in ids:
        admin("coop.sale.cycle", "action_open", [cycle_id])
    return started


def subscribe(admin, url, count):
    """count enabled endpoints (10 per user, the cap); the rest disabled."""
    Endpoint = "coop.webhook.endpoint"
    existing = admin(Endpoint, "search", [], order="id")
    if len(existing) < count:
        group = admin.ref(GROUP_XMLID)
        base = admin.ref("base.group_user")
        users = admin(
            "res.users",
            "create",
            [
                {
                    "name": f"Bench {i}",
                    "login": f"bench-{i}-{secrets.token_hex(2)}",
                    "groups_id": [(6, 0, [base, group])],
                }
                for i in range((count - len(existing) + 9) // 10)
            ],
        )
        opened = admin(
            "coop.webhook.event.type", "search", [("code", "=", "sale_cycle.opened")]
        )
        admin(
            Endpoint,
            "create",
            [
                {"user_id": users[i // 10], "event_type_id": opened[0], "url": url}
                for i in range(count - len(existing))
            ],
        )
        existing = admin(Endpoint, "search", [], order="id")
    admin(Endpoint, "write", existing[:count], {"url": url})
    admin(Endpoint, "action_enable", existing[:count])
    if existing[count:]:
        admin(Endpoint, "action_disable", existing[count:])


def worker_rss(server):
    parent = psutil.Process(server.process.pid)
    return {p.pid: p.memory_info().rss for p in parent.children(recursive=True)}


def throughput_run(server, admin, receiver, total):
    receiver.arrivals.clear()
    subscribe(admin, receiver.url, total // CYCLES_PER_RUN)
    peak, stop = {}, threading.Event()

    def sample():
        while not stop.is_set():
            for pid, rss in worker_rss(server).items():
                peak[pid] = max(peak.get(pid, 0), rss)
            time.sleep(0.5)

    before = worker_rss(server)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = open_cycles(admin, CYCLES_PER_RUN)
    deadline = time.monotonic() + 900
    while len(receiver.arrivals) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    sampler.join()
    elapsed = receiver.arrivals[-1] - started if receiver.arrivals else float("nan")
    return {
        "total": total,
        "received": len(receiver.arrivals),
        "rate": len(receiver.arrivals) / elapsed,
        "rss_before": max(before.values()) / 2**20,
        "rss_peak": max(peak.values()) / 2**20,
    }


def bare_job_run(admin, receiver, total):
    """total queue_job jobs that each POST once, through the same channel."""
    receiver.arrivals.clear()
    model = admin("ir.model", "search", [("model", "=", "coop.sale.cycle")])[0]
    cycle_id = admin("coop.sale.cycle", "create", cycle_values("Bare"))
    post = admin(
        "ir.actions.server",
        "create",
        {
            "name": "POST",
            "model_id": model,
            "state": "webhook",
            "webhook_url": receiver.url,
        },
    )
    job = admin(
        "ir.actions.server",
        "create",
        {
            "name": "bare job",
            "model_id": model,
            "state": "code",
            "code": f"env['ir.actions.server'].browse({post}).with_context("
            f"active_model='coop.sale.cycle', active_id={cycle_id}).run()",
        },
    )
    enqueue = admin(
        "ir.actions.server",
        "create",
        {
            "name": "enqueue bare jobs",
            "model_id": model,
            "state": "code",
            "code": f"for i in range({total}):\n"
            f"    env['ir.actions.server'].browse({job}).with_delay("
            f"channel='root.webhook').run()",
        },
    )
    started = time.monotonic()
    admin("ir.actions.server", "run", [enqueue])
    deadline = time.monotonic() + 900
    while len(receiver.arrivals) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    elapsed = receiver.arrivals[-1] - started if receiver.arrivals else float("nan")
    return len(receiver.arrivals) / elapsed


def latency_run(admin, receiver):
    subscribe(admin, receiver.url, 1)
    samples = []
    for _ in range(OPENINGS):
        receiver.arrivals.clear()
        cycle_id = admin("coop.sale.cycle", "create", cycle_values("Latency"))
        admin("coop.sale.cycle", "action_open", [cycle_id])
        committed = time.monotonic()  # the RPC returns after the commit
        deadline = committed + 30
        while not receiver.arrivals and time.monotonic() < deadline:
            time.sleep(0.002)
        samples.append(receiver.arrivals[0] - committed if receiver.arrivals else 30.0)
    samples.sort()
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "n": len(samples)}


def plain_requests_rate(receiver, total):
    session = requests.Session()
    started = time.monotonic()
    for _ in range(total):
        session.post(receiver.url, data=b"{}", timeout=5)
    return total / (time.monotonic() - started)


def main():
    env = odoo_env_from_environ()
    results, latency = [], None
    with CountingReceiver() as receiver:
        baseline = plain_requests_rate(receiver, 2000)
        for capacity in CAPACITIES:
            cli = OdooCli(
                env,
                f"coop_bench_{secrets.token_hex(4)}",
                channels=f"root:{capacity},root.webhook:{capacity}",
                workers=str(capacity + 1),
                max_cron_threads="1",
            )
            print(f"capacity {capacity}: creating {cli.db_name} ...", flush=True)
            code, log = cli.run("-i", ADDON, "--stop-after-init", "--without-demo=all")
            if code:
                sys.exit(f"install failed:\n{log[-2000:]}")
            server = OdooServer(cli, DEV_LOGS / f"{cli.db_name}-server.log").start()
            try:
                admin = Rpc(server, *ADMIN)
                admin.set_params(
                    allowed_private_networks="127.0.0.0/8", webhook_allow_http="1"
                )
                for total in TOTALS:
                    print(f"capacity {capacity}: {total} deliveries ...", flush=True)
                    row = throughput_run(server, admin, receiver, total)
                    print(f"capacity {capacity}: {total} bare jobs ...", flush=True)
                    row["bare"] = bare_job_run(admin, receiver, total)
                    row["capacity"] = capacity
                    results.append(row)
                if latency is None:
                    print(f"latency over {OPENINGS} openings ...", flush=True)
                    latency = latency_run(admin, receiver)
            finally:
                server.stop()
                cli.drop()
    print(f"\nplain requests loop to the receiver: {baseline:.0f} POST/s (baseline)\n")
    header = (
        "capacity",
        "deliveries",
        "received",
        "deliveries/s",
        "bare jobs/s",
        "vs bare",
        "vs requests",
        "worker RSS 0",
        "worker RSS max",
    )
    print("{:>8} {:>10} {:>9} {:>12} {:>11} {:>8} {:>11} {:>13} {:>14}".format(*header))
    for row in results:
        print(
            "{:>8} {:>10} {:>9} {:>12.1f} {:>11.1f} {:>8.0%} {:>11.1%} {:>10.0f} MB "
            "{:>11.0f} MB".format(
                row["capacity"],
                row["total"],
                row["received"],
                row["rate"],
                row["bare"],
                row["rate"] / row["bare"],
                row["rate"] / baseline,
                row["rss_before"],
                row["rss_peak"],
            )
        )
    if latency:
        print(
            f"\nlatency, commit of action_open to arrival, {latency['n']} openings: "
            f"p50 {latency['p50'] * 1000:.0f} ms, p95 {latency['p95'] * 1000:.0f} ms, "
            f"p99 {latency['p99'] * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
