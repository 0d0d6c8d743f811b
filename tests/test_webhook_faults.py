"""Receivers that misbehave or stall and a server that dies, against a
running Odoo.

Everything is observed from outside: the receivers' requests and the
delivery log read over XML-RPC. The retry schedule is made short by
configuration (Settings), never by patching code.
"""

import configparser
import re
import signal
import socket
import threading
import time

import pytest
import requests
from harness import GROUP_XMLID, WebClient, cycle_values, wait_for
from receiver import RawReceiver, Receiver

# A process and a server of their own when the tests run in several (they
# kill the server).
pytestmark = pytest.mark.xdist_group("webhook_faults")

TOTAL_TIMEOUT = 2  # seconds: the answer timeout of these tests
LOGIN_PAGE_WITHIN = 2  # seconds


def create_developer(admin, login):
    """A user of the main shop with the access."""
    return admin(
        "res.users",
        "create",
        {
            "name": login,
            "login": login,
            "password": f"{login}-pw",
            "groups_id": [
                (6, 0, [admin.ref("base.group_user"), admin.ref(GROUP_XMLID)])
            ],
        },
    )


@pytest.fixture(scope="module")
def developer(admin):
    """A developer of the main shop; short retries for these tests."""
    admin.set_params(
        webhook_retry_schedule="1,1,1,1,1,1", webhook_total_timeout=str(TOTAL_TIMEOUT)
    )
    yield create_developer(admin, "fault-tester")
    admin.set_params(webhook_retry_schedule="", webhook_total_timeout="")


def endpoint_for(admin, developer, url):
    opened = admin(
        "coop.webhook.event.type", "search", [("code", "=", "sale_cycle.opened")]
    )
    return admin(
        "coop.webhook.endpoint",
        "create",
        {"event_type_id": opened[0], "url": url, "user_id": developer},
    )


def open_cycle(admin, name):
    cycle_id = admin("coop.sale.cycle", "create", cycle_values(name))
    admin("coop.sale.cycle", "action_open", [cycle_id])
    return cycle_id


def deliveries(admin, endpoint_id):
    return admin(
        "coop.webhook.delivery",
        "search_read",
        [("endpoint_id", "=", endpoint_id)],
        fields=["webhook_id", "state", "attempt_count", "last_status", "last_error"],
    )


def settled(admin, endpoint_id, count=1):
    rows = deliveries(admin, endpoint_id)
    if len(rows) >= count and all(
        row["state"] in ("done", "failed", "cancelled") for row in rows
    ):
        return rows
    return None


def disable(admin, endpoint_id):
    admin("coop.webhook.endpoint", "action_disable", [endpoint_id])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_receiver_down_then_up(admin, developer):
    port = free_port()
    endpoint_id = endpoint_for(admin, developer, f"http://127.0.0.1:{port}/hook")
    open_cycle(admin, "Receiver down")
    first = wait_for(
        lambda: [r for r in deliveries(admin, endpoint_id) if r["attempt_count"] >= 1],
        what="a first, refused attempt",
    )[0]
    assert first["state"] == "retrying" and "connection" in first["last_error"]
    with Receiver(port=port) as receiver:  # up, on the port that refused
        [row] = wait_for(lambda: settled(admin, endpoint_id), what="the delivery")
    disable(admin, endpoint_id)
    assert row["state"] == "done" and row["attempt_count"] >= 2
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [
        row["webhook_id"]
    ]


@pytest.mark.parametrize(
    "script, state, status, endpoint_state",
    [
        ([(500, {}, 0), (500, {}, 0), (200, {}, 0)], "done", 200, "enabled"),
        ([(410, {}, 0)], "failed", 410, "disabled"),
        ([(200, {}, 3), (200, {}, 0)], "done", 200, "enabled"),
        ([(302, {"Location": "https://example.org/"}, 0)], "failed", 302, "enabled"),
    ],
    ids=["500-500-200", "410", "slow", "redirect"],
)
def test_misbehaving_receivers(admin, developer, script, state, status, endpoint_state):
    with Receiver(*script) as receiver:
        endpoint_id = endpoint_for(admin, developer, receiver.url)
        open_cycle(admin, f"Receiver {script[0][0]}")
        [row] = wait_for(lambda: settled(admin, endpoint_id), what="the delivery")
    [endpoint] = admin("coop.webhook.endpoint", "read", [endpoint_id], ["state"])
    disable(admin, endpoint_id)
    assert (row["state"], row["last_status"]) == (state, status)
    assert endpoint["state"] == endpoint_state
    ids = {request["headers"]["webhook-id"] for request in receiver.requests}
    assert ids == {row["webhook_id"]}, "every attempt carries the same webhook-id"


def test_server_killed_while_delivering(odoo_server, admin, developer):
    """SIGKILL with deliveries in flight: after a restart every event arrives
    at least once; duplicates carry the same webhook-id."""
    with Receiver((200, {}, 1.5)) as receiver:
        endpoints = [endpoint_for(admin, developer, receiver.url) for _ in range(3)]
        for index in range(4):
            open_cycle(admin, f"Killed {index}")
        wait_for(lambda: receiver.requests, what="deliveries in flight")
        odoo_server.stop(signal.SIGKILL)
        odoo_server.start()
        rows = wait_for(
            lambda: all(settled(admin, e, count=4) for e in endpoints)
            and [r for e in endpoints for r in deliveries(admin, e)],
            timeout=180,
            what="every delivery after the restart",
        )
    for endpoint_id in endpoints:
        disable(admin, endpoint_id)
    assert len(rows) == 12 and {row["state"] for row in rows} == {"done"}
    received = [request["headers"]["webhook-id"] for request in receiver.requests]
    expected = {row["webhook_id"] for row in rows}
    assert expected <= set(received), "none lost"
    assert set(received) <= expected, "duplicates only of real events"


def test_server_killed_in_the_middle_of_a_batch(odoo_server, admin, developer):
    """One job sends the 30 deliveries of an opening, 5 at a time: SIGKILL
    when part of them has arrived. Nothing of the batch was recorded, and
    after the restart every delivery arrives at least once, with its id."""
    # Endpoints are capped per owner and event type: three owners of ten.
    owners = [create_developer(admin, f"batch-killer-{index}") for index in range(3)]
    admin.set_params(webhook_delivery_concurrency="5")
    with Receiver((200, {}, 1)) as receiver:
        endpoints = [
            endpoint_for(admin, owner, receiver.url)
            for owner in owners
            for _index in range(10)
        ]
        open_cycle(admin, "Killed mid-batch")
        jobs = {
            row["job_uuid"]
            for row in admin(
                "coop.webhook.delivery",
                "search_read",
                [("endpoint_id", "in", endpoints)],
                fields=["job_uuid"],
            )
        }
        wait_for(lambda: len(receiver.requests) >= 10, what="part of the batch")
        recorded_at_kill = admin(
            "coop.webhook.attempt",
            "search_count",
            [("delivery_id.endpoint_id", "in", endpoints)],
        )
        arrived_before = len(receiver.requests)
        odoo_server.stop(signal.SIGKILL)
        odoo_server.start()
        admin.set_params(webhook_delivery_concurrency="")
        rows = wait_for(
            lambda: all(settled(admin, e) for e in endpoints)
            and [r for e in endpoints for r in deliveries(admin, e)],
            timeout=180,
            what="every delivery after the restart",
        )
    for endpoint_id in endpoints:
        disable(admin, endpoint_id)
    assert len(jobs) == 1, "one job for the batch"
    assert 10 <= arrived_before < 30, "killed in the middle of the batch"
    assert recorded_at_kill == 0, "nothing of a batch is recorded before it ends"
    assert len(rows) == 30 and {row["state"] for row in rows} == {"done"}
    received = [request["headers"]["webhook-id"] for request in receiver.requests]
    assert {row["webhook_id"] for row in rows} == set(received), "none lost"


def test_a_name_that_does_not_resolve_is_retried(admin, developer):
    """DNS trouble is temporary: the delivery goes on with its schedule."""
    endpoint_id = endpoint_for(admin, developer, "https://no-such-host.invalid/hook")
    open_cycle(admin, "Unresolvable")
    rows = wait_for(
        lambda: [r for r in deliveries(admin, endpoint_id) if r["attempt_count"] >= 2],
        what="a second attempt",
    )
    disable(admin, endpoint_id)
    assert "name resolution failed" in rows[0]["last_error"]


HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
STALLING = {
    "body a byte a second": (HEAD, *[b"x", 1] * 60),
    "headers a line a second": (b"HTTP/1.1 200 OK\r\n", *[b"X-Slow: 1\r\n", 1] * 60),
    "silent after the request": (RawReceiver.HANG,),
}


def job_capacity_and_workers(server):
    config = configparser.ConfigParser()
    config.read(server.cli.config)
    workers = int(config["options"]["workers"])
    channels = config["queue_job"]["channels"]
    root = int(re.search(r"(?:^|,)\s*root:(\d+)", channels).group(1))
    return root, workers


def test_the_login_page_answers_while_slow_receivers_are_delivered(
    odoo_server, admin, developer
):
    """Each delivery holds an HTTP worker (queue_job's runner runs a job
    through a request to the server): the attempts end by their deadline,
    and the jobs never take the last worker, so the shop's pages answer."""
    root, workers = job_capacity_and_workers(odoo_server)
    assert root < workers, "the jobs' channels must leave a worker to the users"
    owner = create_developer(admin, "slow-receivers-tester")  # endpoints are capped
    receivers = [RawReceiver(*steps).__enter__() for steps in STALLING.values()]
    # A TLS handshake that never completes: the client's hello gets no answer.
    receivers.append(RawReceiver(RawReceiver.HANG, read_request=False).__enter__())
    urls = [receiver.url for receiver in receivers[:-1]] + [receivers[-1].https_url]
    endpoints = [endpoint_for(admin, owner, url) for url in urls]

    def attempts():
        return admin(
            "coop.webhook.attempt",
            "search_read",
            [("delivery_id.endpoint_id", "in", endpoints)],
            fields=["duration_ms", "error", "delivery_id"],
        )

    def every_delivery_attempted():
        rows = attempts()
        attempted = {row["delivery_id"][0] for row in rows}
        return rows if len(attempted) == len(endpoints) else None

    try:
        open_cycle(admin, "Slow receivers")
        # While the deliveries go on (each attempt holds a job slot, so a
        # worker, for the whole total timeout), a visitor opens the login
        # page, again and again.
        login_times = []
        started = time.monotonic()
        while time.monotonic() - started < 5 * TOTAL_TIMEOUT:
            before = time.monotonic()
            answer = requests.get(
                f"{odoo_server.url}/web/login", timeout=LOGIN_PAGE_WITHIN + 10
            )
            login_times.append(time.monotonic() - before)
            assert answer.status_code == 200
            time.sleep(0.2)
        rows = wait_for(
            every_delivery_attempted, timeout=60, what="an attempt of every delivery"
        )
    finally:
        for endpoint_id in endpoints:
            disable(admin, endpoint_id)
        for receiver in receivers:
            receiver.__exit__(None, None, None)
    assert len(login_times) >= 10
    assert max(login_times) < LOGIN_PAGE_WITHIN, login_times
    # Every attempt ended by the total timeout (plus a second), on a timeout.
    assert all(row["duration_ms"] <= (TOTAL_TIMEOUT + 1) * 1000 for row in rows), rows
    assert all("timeout" in row["error"] for row in rows), rows


def requested_paths(receiver):
    """{path: [raw request, ...]} of what a RawReceiver read."""
    paths = {}
    for request in receiver.requests:
        paths.setdefault(request.split(b" ", 2)[1], []).append(request)
    return paths


def test_deleting_an_endpoint_while_its_deliveries_are_sent(
    odoo_server, admin, developer
):
    """DELETE over the API with a *Manage my webhooks* key while a job sends
    to a receiver that never answers (the job holds the deliveries for the
    whole answer timeout): 204 at once, the shop's pages keep answering, the
    endpoint is no longer listed and receives nothing more (its retries
    would come 1 s after the timeout), and it is removed once the job ends."""
    login = "delete-in-flight"
    create_developer(admin, login)
    key = WebClient(odoo_server, login, f"{login}-pw").generate_api_key(
        "Zapier", f"{login}-pw", "coop.webhooks.manage"
    )["default_key"]
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    webhooks = f"{odoo_server.url}/coop/api/v1/webhooks"
    answer_timeout = 12
    admin.set_params(webhook_total_timeout=str(answer_timeout))
    blackhole = RawReceiver(RawReceiver.HANG).__enter__()
    login_times = []
    stop = threading.Event()

    def open_the_login_page():
        while not stop.is_set():
            before = time.monotonic()
            answer = requests.get(f"{odoo_server.url}/web/login", timeout=30)
            login_times.append((time.monotonic() - before, answer.status_code))
            stop.wait(0.2)

    try:
        created = [
            api.post(
                webhooks,
                json={"event_type": "sale_cycle.opened", "url": f"{blackhole.url}/{n}"},
                timeout=30,
            )
            for n in ("deleted", "kept")
        ]
        assert [answer.status_code for answer in created] == [201, 201]
        deleted_id, kept_id = (answer.json()["id"] for answer in created)
        open_cycle(admin, "Deleted in flight")
        wait_for(lambda: len(blackhole.requests) == 2, what="both deliveries sent")
        visitor = threading.Thread(target=open_the_login_page)
        visitor.start()
        before = time.monotonic()
        answer = api.delete(f"{webhooks}/{deleted_id}", timeout=60)
        took = time.monotonic() - before
        assert answer.status_code == 204, answer.text
        assert took < 2, f"the DELETE took {took:.1f} s"
        listed = [hook["id"] for hook in api.get(webhooks, timeout=30).json()["data"]]
        sending_job_ends = before + answer_timeout + 5
        # The job ends, its deliveries would be retried 1 s later.
        time.sleep(max(0, sending_job_ends - time.monotonic()))
        removed = wait_for(
            lambda: not admin(
                "coop.webhook.endpoint",
                "search",
                [("id", "=", deleted_id), ("active", "in", [True, False])],
            ),
            timeout=60,
            what="the deleted endpoint's removal",
        )
        stop.set()
        visitor.join(30)
        kept = wait_for(
            lambda: len(requested_paths(blackhole).get(b"/hook/kept", [])) >= 2,
            timeout=30,
            what="the kept endpoint's retry",
        )
    finally:
        stop.set()
        admin.set_params(webhook_total_timeout=str(TOTAL_TIMEOUT))
        for endpoint_id in admin(
            "coop.webhook.endpoint", "search", [("user_id.login", "=", login)]
        ):
            disable(admin, endpoint_id)
        blackhole.__exit__(None, None, None)
    assert deleted_id not in listed and kept_id in listed
    assert removed and kept
    paths = requested_paths(blackhole)
    assert len(paths[b"/hook/deleted"]) == 1, "nothing sent after the delete"
    assert all(status == 200 for _took, status in login_times), login_times
    assert len(login_times) >= 10
    assert max(took for took, _status in login_times) < LOGIN_PAGE_WITHIN, login_times
