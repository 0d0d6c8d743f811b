#!/usr/bin/env python3
"""Delivery benchmark: the six runs of issue #14, end to end, with baselines.

Servers started like `make run` (3 HTTP workers, queue_job's runner,
channels root:2,root.webhook:2), one receiver in a process of its own
(_delivery_receiver.py: HTTP/1.1 kept alive, one loopback address per
endpoint, instant, 50 ms or hanging answers), cycles opened over XML-RPC.

The same runs on two servers, one after the other: this tree's code (one
queue_job job per batch of deliveries) and the code before batches
(BENCH_BEFORE_REV, one job per delivery), extracted with `git archive` into
a folder of its own. Baselines measured in the same run, against the same
receiver: a bare queue_job job that only POSTs (Odoo's own webhook server
action run through with_delay), a plain `requests` loop, and a plain thread
pool of `requests` sessions (the machine's limit). Prints the details of
every run, then one table: run, figure, target, baselines, verdict. Run with
`make bench BENCH=delivery`; the BENCH_* variables below make it small.
"""

import contextlib
import io
import math
import os
import secrets
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _delivery_receiver import ReceiverProcess  # noqa: E402
from harness import (  # noqa: E402
    ADDON,
    ADMIN,
    DEV_LOGS,
    GROUP_XMLID,
    ROOT,
    OdooCli,
    OdooServer,
    Rpc,
    cycle_values,
    free_port,
    odoo_env_from_environ,
)

# Deliveries per run; the largest is the burst (runs 1, 2, 3), each
# size's peak worker RSS is run 6.
TOTALS = [int(n) for n in os.environ.get("BENCH_TOTALS", "1000,10000").split(",")]
# The job channels' capacity: `make run`'s (3 workers, one left to users).
CAPACITY = int(os.environ.get("BENCH_CAPACITY", "2"))
# The code before batches (one queue_job job per delivery); empty: not run.
BEFORE_REV = os.environ.get("BENCH_BEFORE_REV", "cc79757")
# Deliveries of the one-job-per-delivery and bare-job runs (their pace does
# not depend on the size: 10 000 would take 10 minutes each).
BASELINE_TOTAL = int(os.environ.get("BENCH_BASELINE_TOTAL", "1000"))
OPENINGS = int(os.environ.get("BENCH_LATENCY_OPENINGS", "200"))
# Run 4: endpoints, of which every tenth hangs, and the total timeout then.
HANG_ENDPOINTS = int(os.environ.get("BENCH_HANG_ENDPOINTS", "100"))
HANG_TIMEOUT = int(os.environ.get("BENCH_HANG_TIMEOUT", "5"))
POOL_THREADS = [
    int(n) for n in os.environ.get("BENCH_POOL_THREADS", "32,64").split(",")
]
LOOP_REQUESTS = {"hook": 2000, "slow": 200}
DELAY = 0.05  # the slow receivers' answer time
LOGIN_EVERY = 0.5
CYCLES_PER_RUN = 10
ENDPOINTS_PER_USER = 10  # the addon's cap per user and event type
RSS_FLAT = 1.10  # "flat": the larger size's peak within 10 % of the smaller's
KINDS = {"slow": f"{DELAY * 1000:.0f} ms receivers", "hook": "instant receivers"}
JOB_CHANNEL = "root.webhook"


def seconds(value):
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def ms(value):
    return f"{value * 1000:.0f} ms"


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# ----------------------------------------------------------------------
# Watching the server during a run
# ----------------------------------------------------------------------


class Watcher:
    """A thread that runs (self.run) while in its with block, until
    self.stopping is set."""

    def __init__(self):
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()


class RssSampler(Watcher):
    """Peak RSS of the server's processes (its workers), every 0.5 s."""

    def __init__(self, server):
        super().__init__()
        self.parent = psutil.Process(server.process.pid)
        self.before = self.sample()
        self.peak = dict(self.before)

    def sample(self):
        sizes = {}
        for process in self.parent.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                sizes[process.pid] = process.memory_info().rss
        return sizes

    def run(self):
        while not self.stopping.wait(0.5):
            for pid, rss in self.sample().items():
                self.peak[pid] = max(self.peak.get(pid, 0), rss)

    def result(self):
        return max(self.before.values()) / 2**20, max(self.peak.values()) / 2**20


class LoginProbe(Watcher):
    """GET /web/login every LOGIN_EVERY seconds (never two at once), as a
    user would while the deliveries go: how long each took."""

    def __init__(self, server):
        super().__init__()
        self.url = f"{server.url}/web/login"
        self.durations, self.errors = [], 0

    def run(self):
        next_at = time.monotonic()
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                requests.get(self.url, timeout=30).raise_for_status()
                self.durations.append(time.monotonic() - started)
            except requests.RequestException:
                self.errors += 1
            next_at = max(next_at + LOGIN_EVERY, time.monotonic())
            self.stopping.wait(next_at - time.monotonic())

    def result(self):
        if not self.durations:
            return None
        return {
            "p50": quantile(self.durations, 0.50),
            "p95": quantile(self.durations, 0.95),
            "max": max(self.durations),
            "n": len(self.durations),
            "errors": self.errors,
        }


# ----------------------------------------------------------------------
# A server and what is done through it
# ----------------------------------------------------------------------


def code_of(rev, folder):
    """The addon as it was at rev, extracted into folder."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, ADDON],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


@contextlib.contextmanager
def odoo_server(env, addons_dir=None):
    """A throwaway database with the addon (of addons_dir if given) and a
    server on it, as `make run` starts it; yields (server, admin RPC)."""
    options = {
        "channels": f"root:{CAPACITY},{JOB_CHANNEL}:{CAPACITY}",
        "workers": str(CAPACITY + 1),
        "max_cron_threads": "1",
    }
    if addons_dir:
        options["addons_path"] = f"{env['source'] / 'odoo' / 'addons'},{addons_dir}"
    cli = OdooCli(env, f"coop_bench_{secrets.token_hex(4)}", **options)
    print(f"  creating {cli.db_name} ...", flush=True)
    try:
        code, log = cli.run("-i", ADDON, "--stop-after-init", "--without-demo=all")
        if code:
            sys.exit(f"install failed:\n{log[-2000:]}")
        server = OdooServer(cli, DEV_LOGS / f"{cli.db_name}-server.log").start()
        try:
            admin = Rpc(server, *ADMIN)
            admin.set_params(
                allowed_private_networks="127.0.0.0/8", webhook_allow_http="1"
            )
            yield server, admin
        finally:
            server.stop()
    finally:
        cli.drop()


def subscribe(admin, urls):
    """New endpoints for sale_cycle.opened, one per URL (10 per user, the
    cap); those of the previous runs are disabled."""
    Endpoint = "coop.webhook.endpoint"
    enabled = admin(Endpoint, "search", [("state", "=", "enabled")])
    if enabled:
        admin(Endpoint, "action_disable", enabled)
    group, base = admin.ref(GROUP_XMLID), admin.ref("base.group_user")
    users = admin(
        "res.users",
        "create",
        [
            {
                "name": f"Bench {i}",
                "login": f"bench-{i}-{secrets.token_hex(3)}",
                "groups_id": [(6, 0, [base, group])],
            }
            for i in range(math.ceil(len(urls) / ENDPOINTS_PER_USER))
        ],
    )
    opened = admin(
        "coop.webhook.event.type", "search", [("code", "=", "sale_cycle.opened")]
    )[0]
    return admin(
        Endpoint,
        "create",
        [
            {
                "user_id": users[i // ENDPOINTS_PER_USER],
                "event_type_id": opened,
                "url": url,
            }
            for i, url in enumerate(urls)
        ],
    )


def open_cycles(admin, count):
    """Opens count new cycles; returns when the first action_open was called."""
    ids = admin(
        "coop.sale.cycle", "create", [cycle_values(f"Bench {i}") for i in range(count)]
    )
    started = time.monotonic()
    for cycle_id in ids:
        admin("coop.sale.cycle", "action_open", [cycle_id])
    return started


def wait_for_arrivals(receiver, count, timeout=1200):
    deadline = time.monotonic() + timeout
    while receiver.count < count and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_for_jobs(admin, timeout=300):
    """Until the delivery channel's jobs are done (the last attempts
    recorded); False if some still are not after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not admin(
            "queue.job",
            "search_count",
            [("channel", "=", JOB_CHANNEL), ("state", "in", ("enqueued", "started"))],
        ) and not admin(
            "queue.job",
            "search_count",
            [
                ("channel", "=", JOB_CHANNEL),
                ("state", "=", "pending"),
                ("eta", "=", False),
            ],
        ):
            return True
        time.sleep(0.5)
    return False


def last_job_id(admin):
    return (admin("queue.job", "search", [], order="id desc", limit=1) or [0])[0]


def jobs_since(admin, job_id):
    """The delivery channel's jobs after job_id: how many, and the time
    they held a slot (queue_job's exec_time: start to done), summed."""
    jobs = admin(
        "queue.job",
        "search_read",
        [("id", ">", job_id), ("channel", "=", JOB_CHANNEL)],
        ["exec_time"],
    )
    return len(jobs), sum(job["exec_time"] or 0 for job in jobs)


def delivery_states(admin, endpoint_ids):
    groups = admin(
        "coop.webhook.delivery",
        "read_group",
        [("endpoint_id", "in", endpoint_ids)],
        ["state"],
        ["state"],
    )
    return {group["state"]: group["state_count"] for group in groups}


def pipeline_run(server, admin, receiver, kind, total, label):
    """total deliveries: total / 10 endpoints, 10 cycles opened; from the
    first action_open call to the total-th arrival."""
    endpoints = total // CYCLES_PER_RUN
    endpoint_ids = subscribe(admin, [receiver.url(kind, i) for i in range(endpoints)])
    receiver.take()
    job_id = last_job_id(admin)
    with RssSampler(server) as rss, LoginProbe(server) as login:
        started = open_cycles(admin, CYCLES_PER_RUN)
        opened = time.monotonic() - started
        wait_for_arrivals(receiver, total)
    settled = wait_for_jobs(admin)
    jobs, busy = jobs_since(admin, job_id)
    arrivals = sorted(t for t, _path in receiver.take())
    states = delivery_states(admin, endpoint_ids)
    elapsed = arrivals[total - 1] - started if len(arrivals) >= total else math.nan
    row = {
        "server": label,
        "run": f"{total} deliveries, {KINDS[kind]}",
        "kind": kind,
        "total": total,
        "received": len(arrivals),
        "states": states,
        "settled": settled,
        "elapsed": elapsed,
        "rate": total / elapsed,
        "opened": opened,
        "jobs": jobs,
        "busy": busy,
        "rss": rss.result(),
        "login": login.result(),
    }
    print(f"    {details(row)}", flush=True)
    return row


def bare_job_run(admin, receiver, kind, total):
    """total queue_job jobs that each POST once, through the same channel."""
    receiver.take()
    model = admin("ir.model", "search", [("model", "=", "coop.sale.cycle")])[0]
    cycle_id = admin("coop.sale.cycle", "create", cycle_values("Bare"))
    post = admin(
        "ir.actions.server",
        "create",
        {
            "name": "POST",
            "model_id": model,
            "state": "webhook",
            "webhook_url": receiver.url(kind, 0),
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
            f"channel='{JOB_CHANNEL}').run()",
        },
    )
    started = time.monotonic()
    admin("ir.actions.server", "run", [enqueue])
    wait_for_arrivals(receiver, total)
    arrivals = sorted(t for t, _path in receiver.take())
    elapsed = arrivals[total - 1] - started if len(arrivals) >= total else math.nan
    row = {
        "server": "bare queue_job POST job",
        "run": f"{total} jobs, {KINDS[kind]}",
        "kind": kind,
        "total": total,
        "received": len(arrivals),
        "elapsed": elapsed,
        "rate": total / elapsed,
    }
    print(f"    {details(row)}", flush=True)
    return row


def latency_run(admin, receiver):
    """OPENINGS openings one after the other, one endpoint: from the return
    of action_open (its commit) to the arrival."""
    subscribe(admin, [receiver.url("hook", 0)])
    receiver.take()
    samples = []
    for _ in range(OPENINGS):
        cycle_id = admin("coop.sale.cycle", "create", cycle_values("Latency"))
        admin("coop.sale.cycle", "action_open", [cycle_id])
        committed = time.monotonic()  # the RPC returns after the commit
        deadline = committed + 30
        while not receiver.count and time.monotonic() < deadline:
            time.sleep(0.002)
        arrivals = receiver.take()
        samples.append(arrivals[0][0] - committed if arrivals else 30.0)
    return {
        "p50": quantile(samples, 0.50),
        "p95": quantile(samples, 0.95),
        "p99": quantile(samples, 0.99),
        "n": len(samples),
    }


def one_opening(admin, receiver, urls):
    """One cycle opened for these endpoints; {path: seconds from the
    action_open call to its arrival}."""
    subscribe(admin, urls)
    receiver.take()
    started = open_cycles(admin, 1)
    wait_for_arrivals(receiver, len(urls), timeout=300)
    return {path: t - started for t, path in receiver.take()}


def hang_run(admin, receiver):
    """HANG_ENDPOINTS endpoints of which every tenth hangs: when the
    healthy ones arrive, against the same opening with all healthy."""
    admin.set_params(webhook_total_timeout=str(HANG_TIMEOUT))
    healthy = one_opening(
        admin, receiver, [receiver.url("slow", i) for i in range(HANG_ENDPOINTS)]
    )
    mixed = one_opening(
        admin,
        receiver,
        [
            receiver.url("hang" if i % 10 == 0 else "slow", i)
            for i in range(HANG_ENDPOINTS)
        ],
    )
    hanging = [t for path, t in mixed.items() if path.startswith("/hang/")]
    arrived = [t for path, t in mixed.items() if not path.startswith("/hang/")]
    return {
        "reference": max(healthy.values()),
        "healthy_max": max(arrived) if arrived else math.nan,
        "healthy_n": len(arrived),
        "hanging_n": len(hanging),
    }


def server_runs(server, admin, receiver, label, totals, bare=False):
    rows = {"pipeline": [], "bare": []}
    for kind in KINDS:
        for total in totals:
            print(f"  {label}: {total} deliveries, {KINDS[kind]} ...", flush=True)
            rows["pipeline"].append(
                pipeline_run(server, admin, receiver, kind, total, label)
            )
        if bare:
            print(f"  bare queue_job jobs, {KINDS[kind]} ...", flush=True)
            rows["bare"].append(bare_job_run(admin, receiver, kind, BASELINE_TOTAL))
    print(f"  {label}: latency over {OPENINGS} openings ...", flush=True)
    rows["latency"] = latency_run(admin, receiver)
    print(
        f"  {label}: {HANG_ENDPOINTS} endpoints, every tenth hanging, "
        f"total timeout {HANG_TIMEOUT} s ...",
        flush=True,
    )
    rows["hang"] = hang_run(admin, receiver)
    return rows


# ----------------------------------------------------------------------
# Baselines outside Odoo
# ----------------------------------------------------------------------


def requests_loop(receiver, kind, count, endpoints):
    session = requests.Session()
    receiver.take()
    started = time.monotonic()
    for i in range(count):
        session.post(receiver.url(kind, i % endpoints), data=b"{}", timeout=10)
    arrivals = receiver.take()
    return count / (arrivals[-1][0] - started)


def thread_pool(receiver, kind, total, endpoints, threads):
    """total POSTs from a pool of threads, a kept-alive session each."""
    local = threading.local()

    def post(i):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        local.session.post(receiver.url(kind, i % endpoints), data=b"{}", timeout=10)

    receiver.take()
    cpu = receiver.cpu_seconds()
    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, range(total)))
    arrivals = receiver.take()
    elapsed = arrivals[-1][0] - started
    return {
        "threads": threads,
        "elapsed": elapsed,
        "rate": total / elapsed,
        "receiver_cpu": (receiver.cpu_seconds() - cpu) / elapsed,
    }


# ----------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------


def login_text(login):
    if not login:
        return "no answer"
    text = (
        f"p50 {ms(login['p50'])}, p95 {ms(login['p95'])}, max {ms(login['max'])} "
        f"({login['n']} requests"
    )
    return text + (f", {login['errors']} errors)" if login["errors"] else ")")


def details(row):
    text = (
        f"{row['server']}: {row['run']}: received {row['received']}, "
        f"{seconds(row['elapsed'])}, {row['rate']:.0f}/s"
    )
    if "states" in row:
        text += (
            f"; openings {seconds(row['opened'])}; {row['jobs']} jobs, "
            f"{seconds(row['busy'])} of job time "
            f"({row['busy'] / max(row['jobs'], 1) * 1000:.0f} ms each, "
            f"{row['busy'] / (CAPACITY * row['elapsed']):.0%} of the "
            f"{CAPACITY} slots)"
        )
        states = ", ".join(f"{n} {state}" for state, n in sorted(row["states"].items()))
        text += f"; deliveries {states}{'' if row['settled'] else ' (jobs unfinished)'}"
        text += "; worker RSS {:.0f} → {:.0f} MB".format(*row["rss"])
        text += f"; /web/login {login_text(row['login'])}"
    return text


def find(rows, kind, total=None):
    for row in rows:
        if row["kind"] == kind and (total is None or row["total"] == total):
            return row
    return None


def at_size(row, total):
    """The time row's pace gives for total deliveries (measured if same)."""
    if row is None:
        return "not run"
    if row["total"] == total:
        return f"{seconds(row['elapsed'])} ({row['rate']:.0f}/s)"
    return (
        f"{seconds(total / row['rate'])} est. ({row['rate']:.0f}/s over {row['total']})"
    )


def verdict(met, miss_text=""):
    return "MET" if met else f"MISSED{': ' + miss_text if miss_text else ''}"


def summary(after, before, pools, loops):
    big, small = max(TOTALS), min(TOTALS)
    before_rows = before["pipeline"] if before else []
    bare_rows = after["bare"]
    table = []

    slow = find(after["pipeline"], "slow", big)
    table.append(
        (
            f"1. {big} deliveries to {big // CYCLES_PER_RUN} endpoints, "
            f"{KINDS['slow']}: first action_open → last arrival",
            f"{seconds(slow['elapsed'])} ({slow['rate']:.0f}/s)",
            "≤ 30 s",
            f"one job per delivery {at_size(find(before_rows, 'slow'), big)}; "
            f"bare job {at_size(find(bare_rows, 'slow'), big)}; "
            f"requests loop {seconds(big / loops['slow'])} est. "
            f"({loops['slow']:.0f}/s); thread pool "
            + ", ".join(
                f"{p['threads']} threads {seconds(p['elapsed'])}" for p in pools["slow"]
            ),
            verdict(slow["elapsed"] <= 30, f"{slow['elapsed'] / 30 - 1:.0%} over"),
        )
    )

    instant = find(after["pipeline"], "hook", big)
    limit = max(pool["rate"] for pool in pools["hook"])
    share = instant["rate"] / limit
    table.append(
        (
            f"2. the same, {KINDS['hook']}: deliveries/s",
            f"{instant['rate']:.0f}/s = {share:.0%} of the thread pool's",
            f"≥ 50 % of the thread pool ({limit / 2:.0f}/s)",
            f"one job per delivery {at_size(find(before_rows, 'hook'), big)}; "
            f"bare job {at_size(find(bare_rows, 'hook'), big)}; "
            f"requests loop {loops['hook']:.0f}/s; thread pool "
            + ", ".join(
                f"{p['threads']} threads {p['rate']:.0f}/s" for p in pools["hook"]
            ),
            verdict(share >= 0.5, f"{share:.0%} of the limit"),
        )
    )

    login = slow["login"]
    before_slow = find(before_rows, "slow")
    table.append(
        (
            f"3. GET /web/login every {LOGIN_EVERY} s during run 1",
            login_text(login),
            "p95 ≤ 1 s",
            "one job per delivery, during its run: "
            + (login_text(before_slow["login"]) if before_slow else "not run"),
            verdict(login is not None and login["p95"] <= 1.0),
        )
    )

    hang = after["hang"]
    delay = hang["healthy_max"] - hang["reference"]
    before_hang = before["hang"] if before else None
    table.append(
        (
            f"4. {HANG_ENDPOINTS} endpoints, {hang['hanging_n']} hanging "
            f"(total timeout set to {HANG_TIMEOUT} s), one opening: last of the "
            f"{hang['healthy_n']} healthy arrivals",
            f"{seconds(hang['healthy_max'])} after the opening "
            f"(all healthy: {seconds(hang['reference'])}; "
            f"delayed {seconds(max(delay, 0))})",
            f"delayed ≤ one timeout ({HANG_TIMEOUT} s)",
            (
                f"one job per delivery: {seconds(before_hang['healthy_max'])} "
                f"(all healthy: {seconds(before_hang['reference'])})"
                if before_hang
                else "not run"
            ),
            verdict(delay <= HANG_TIMEOUT),
        )
    )

    latency = after["latency"]
    before_latency = before["latency"] if before else None
    table.append(
        (
            f"5. one endpoint, commit of action_open → arrival, "
            f"{latency['n']} openings",
            f"p50 {ms(latency['p50'])}, p95 {ms(latency['p95'])}, "
            f"p99 {ms(latency['p99'])}",
            "≤ 2× one job per delivery",
            (
                f"one job per delivery: p50 {ms(before_latency['p50'])}, "
                f"p95 {ms(before_latency['p95'])}, p99 {ms(before_latency['p99'])}"
                if before_latency
                else "not run"
            ),
            verdict(
                latency["p50"] <= 2 * before_latency["p50"]
                and latency["p99"] <= 2 * before_latency["p99"]
            )
            if before_latency
            else "no baseline",
        )
    )

    peaks = {
        total: max(row["rss"][1] for row in after["pipeline"] if row["total"] == total)
        for total in TOTALS
    }
    before_peak = max(row["rss"][1] for row in before_rows) if before_rows else None
    table.append(
        (
            "6. peak worker RSS",
            ", ".join(f"{peaks[total]:.0f} MB at {total}" for total in TOTALS),
            f"flat (≤ {RSS_FLAT - 1:.0%} more at {big} than at {small})",
            (
                f"one job per delivery: {before_peak:.0f} MB at {BASELINE_TOTAL}"
                if before_peak
                else "not run"
            ),
            verdict(peaks[big] <= RSS_FLAT * peaks[small]),
        )
    )
    return table


def print_details(after, before, pools, loops):
    print(
        "\n| pipeline | run | received | deliveries in the DB | openings "
        "| first action_open → last arrival | per s | jobs | job time (each) "
        "| slots busy | worker RSS start → peak | /web/login p50 / p95 / max (n) |"
    )
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    rows = after["pipeline"] + after["bare"] + (before["pipeline"] if before else [])
    for row in rows:
        cells = [
            row["server"],
            row["run"],
            str(row["received"]),
            "–",
            "–",
            seconds(row["elapsed"]),
            f"{row['rate']:.0f}",
            "–",
            "–",
            "–",
            "–",
            "–",
        ]
        if "states" in row:
            login = row["login"]
            cells[3] = ", ".join(
                f"{n} {state}" for state, n in sorted(row["states"].items())
            ) + ("" if row["settled"] else " (jobs unfinished)")
            cells[4] = seconds(row["opened"])
            cells[7] = str(row["jobs"])
            cells[8] = (
                f"{seconds(row['busy'])} "
                f"({row['busy'] / max(row['jobs'], 1) * 1000:.0f} ms)"
            )
            cells[9] = f"{row['busy'] / (CAPACITY * row['elapsed']):.0%}"
            cells[10] = "{:.0f} → {:.0f} MB".format(*row["rss"])
            cells[11] = (
                f"{ms(login['p50'])} / {ms(login['p95'])} / {ms(login['max'])} "
                f"({login['n']})"
                if login
                else "no answer"
            )
        print("| " + " | ".join(cells) + " |")
    for kind in KINDS:
        total = max(TOTALS)
        for pool in pools[kind]:
            print(
                f"| thread pool, {pool['threads']} threads, a session each "
                f"| {total} POSTs, {KINDS[kind]} | {total} | – | – "
                f"| {seconds(pool['elapsed'])} | {pool['rate']:.0f} "
                "| – | – | – | – | – |"
            )
        print(
            f"| plain requests loop | {LOOP_REQUESTS[kind]} POSTs, {KINDS[kind]} "
            f"| {LOOP_REQUESTS[kind]} | – | – "
            f"| {seconds(LOOP_REQUESTS[kind] / loops[kind])} | {loops[kind]:.0f} "
            "| – | – | – | – | – |"
        )


def print_summary(table):
    print("\n| run | figure | target | baselines (same run) | verdict |")
    print("|---|---|---|---|---|")
    for row in table:
        print("| " + " | ".join(row) + " |")


def main():
    env = odoo_env_from_environ()
    endpoints = max(max(TOTALS) // CYCLES_PER_RUN, HANG_ENDPOINTS)
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}; servers as `make run`: {CAPACITY + 1} HTTP workers, "
        f"channels root:{CAPACITY},{JOB_CHANNEL}:{CAPACITY}, 1 cron worker; "
        f"receiver: own process, HTTP/1.1 kept alive, {endpoints} loopback "
        f"addresses (one per endpoint), {KINDS['slow']} or instant",
        flush=True,
    )
    with ReceiverProcess(free_port(), endpoints, DELAY) as receiver:
        print("plain requests loop, plain thread pool ...", flush=True)
        loops = {
            kind: requests_loop(receiver, kind, LOOP_REQUESTS[kind], endpoints)
            for kind in KINDS
        }
        pools = {
            kind: [
                thread_pool(
                    receiver, kind, max(TOTALS), max(TOTALS) // CYCLES_PER_RUN, threads
                )
                for threads in POOL_THREADS
            ]
            for kind in KINDS
        }
        for kind in KINDS:
            for pool in pools[kind]:
                print(
                    f"    thread pool, {pool['threads']} threads, {KINDS[kind]}: "
                    f"{pool['rate']:.0f}/s (receiver's CPU {pool['receiver_cpu']:.0%})"
                )
            print(f"    requests loop, {KINDS[kind]}: {loops[kind]:.0f}/s")
        print("this tree (one job per batch):", flush=True)
        with odoo_server(env) as (server, admin):
            after = server_runs(
                server, admin, receiver, "one job per batch", TOTALS, bare=True
            )
        before = None
        if BEFORE_REV:
            print(f"{BEFORE_REV} (one job per delivery):", flush=True)
            with tempfile.TemporaryDirectory(prefix="coop-bench-") as folder:
                with odoo_server(env, code_of(BEFORE_REV, folder)) as (server, admin):
                    before = server_runs(
                        server,
                        admin,
                        receiver,
                        "one job per delivery",
                        [BASELINE_TOTAL],
                    )
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print_details(after, before, pools, loops)
    print_summary(summary(after, before, pools, loops))


if __name__ == "__main__":
    main()
