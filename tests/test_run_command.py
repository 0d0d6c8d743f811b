"""`make run` as a newcomer meets it: the run command itself, on free ports.

Its database (French, the demo developer), its summary, and its public port:
the web client's bus reaches Odoo's gevent port through it, so no
"real-time connection lost" banner. The HTTP workers' own port, which is what
the run command used to serve, is checked too: there the bus fails, which
proves the checks can see the difference.
"""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from configparser import ConfigParser
from pathlib import Path

import pytest
import websocket
from harness import (
    ADMIN,
    DEV_LOGS,
    GROUP_XMLID,
    ROOT,
    Chromium,
    Rpc,
    WebClient,
    drop_db,
    free_port,
    settings_uri,
    wait_for,
)

# Set by the web client once its bus worker is connected, or has given up.
BUS_STATE = "odoo.__WOWL_DEBUG__?.root?.env.services.bus_service.workerState"
BANNER = ".o-bus-ConnectionAlert"


class RunCommand:
    """`python3 tools/devtool.py run`, as `make run` calls it."""

    def __init__(self, odoo_env, db_name):
        self.db_name = db_name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = db_name  # what Rpc and WebClient read
        self.odoo_env = odoo_env
        self.process = None
        self.output = ""

    def start(self, timeout=900):
        log_path = DEV_LOGS / f"{self.db_name}-run-{time.monotonic_ns()}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    ROOT / "tools" / "devtool.py",
                    "run",
                    "--db-uri",
                    settings_uri(self.odoo_env["db"]),
                ],
                env=dict(
                    os.environ, COOP_HTTP_PORT=str(self.port), COOP_DB=self.db_name
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready():
            self.output = log_path.read_text(errors="replace")
            return "Odoo is ready" in self.output or self.process.poll() is not None

        wait_for(ready, timeout=timeout, interval=1, what="the run command's server")
        assert self.process.poll() is None, f"the run command stopped:\n{self.output}"
        return self

    @property
    def config(self):
        return Path(re.search(r"configuration: (\S+)", self.output).group(1))

    @property
    def workers_port(self):
        parser = ConfigParser()
        parser.read(self.config)
        return int(parser["options"]["http_port"])

    def stop(self):
        """Ctrl+C, as in a terminal: the command and Odoo get it."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture(scope="module")
def run_command(odoo_env):
    command = RunCommand(odoo_env, f"coop_pytest_run_{secrets.token_hex(4)}")
    try:
        yield command.start()
    finally:
        command.stop()
        if command.output and "configuration: " in command.output:
            drop_db(command.config, command.db_name)
            command.config.unlink(missing_ok=True)


def test_summary_says_where_what_and_how(run_command):
    summary = run_command.output.split("Odoo is ready", 1)[1]
    for expected in (
        run_command.url,
        "admin / admin",
        "demo / demo",
        "dev / dev",
        "Paramètres développeur (Developer settings)",
        "Préférences (Preferences",
        "it is shown once",
    ):
        assert expected in summary, f"{expected!r} missing from:\n{summary}"


def test_database_speaks_french_and_has_the_demo_developer(run_command):
    admin = Rpc(run_command, *ADMIN)
    assert admin("res.lang", "search_count", [("code", "=", "fr_FR")]) == 1
    # French is loaded for all modules, not only activated.
    settings_menu = admin.ref("base.menu_administration")
    [menu] = admin(
        "ir.ui.menu", "read", [settings_menu], ["name"], context={"lang": "fr_FR"}
    )
    assert menu["name"] == "Paramètres"

    dev = Rpc(run_command, "dev", "dev")
    [user] = admin("res.users", "read", [dev.uid], ["lang", "groups_id", "company_ids"])
    assert user["lang"] == "fr_FR"
    assert admin.ref(GROUP_XMLID) in user["groups_id"]
    assert user["company_ids"] == [admin.ref("base.main_company")]
    assert not admin("res.users.apikeys", "search_count", [("user_id", "=", dev.uid)])


def bus_version(odoo_env):
    source = (odoo_env["source"] / "odoo/addons/bus/websocket.py").read_text()
    return re.search(r'_VERSION = "([^"]+)"', source).group(1)


def open_bus(port, session_id, version):
    return websocket.create_connection(
        f"ws://127.0.0.1:{port}/websocket?version={version}",
        cookie=f"session_id={session_id}",
        origin=f"http://127.0.0.1:{port}",
        timeout=30,
    )


def test_websocket_through_the_public_port_gets_the_bus(run_command, odoo_env):
    dev = WebClient(run_command, "dev", "dev")
    session_id = dev.session.cookies["session_id"]
    version = bus_version(odoo_env)

    # The workers' port alone cannot serve it: what the run command used to do.
    with pytest.raises(websocket.WebSocketBadStatusException):
        open_bus(run_command.workers_port, session_id, version)

    bus = open_bus(run_command.port, session_id, version)
    try:
        bus.send(
            json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}})
        )
        # A change of the user's settings is sent to the user on the bus.
        field = "is_discuss_sidebar_category_chat_open"
        found = dev.call(
            "res.users.settings",
            "search_read",
            [[("user_id", "=", dev.uid)]],
            {"fields": [field]},
        )
        settings = (
            found[0]
            if found
            else {
                "id": dev.call("res.users.settings", "create", [{"user_id": dev.uid}]),
                field: True,
            }
        )
        dev.call(
            "res.users.settings",
            "set_res_users_settings",
            [[settings["id"]], {field: not settings[field]}],
        )

        def settings_notification():
            notifications = json.loads(bus.recv())
            return [
                n for n in notifications if n["message"]["type"] == "res.users.settings"
            ]

        assert wait_for(settings_notification, timeout=60, what="the bus notification")
    finally:
        bus.close()


def test_web_client_shows_no_connection_lost_banner(run_command):
    dev = WebClient(run_command, "dev", "dev")
    browser = Chromium(width=1400, height=1000)
    try:
        browser.set_cookie(
            run_command.url, "session_id", dev.session.cookies["session_id"]
        )
        # The banner shows in Discuss (where the web client lands) when the
        # bus worker cannot connect.
        browser.open(f"{run_command.url}/odoo/discuss")
        browser.wait_until(
            f"{BUS_STATE} === 'CONNECTED' || !!document.querySelector('{BANNER}')",
            what="the web client's bus to connect, or the banner",
        )
        time.sleep(3)  # a connection that drops shows the banner within this
        browser.screenshot(DEV_LOGS / "run-command-public-port.png")
        assert browser.evaluate(BUS_STATE) == "CONNECTED"
        assert not browser.evaluate(f"!!document.querySelector('{BANNER}')")

        # On the workers' port alone, the same page shows the banner.
        browser.open(f"http://127.0.0.1:{run_command.workers_port}/odoo/discuss")
        browser.wait_until(
            f"!!document.querySelector('{BANNER}')", what="the connection-lost banner"
        )
        browser.screenshot(DEV_LOGS / "run-command-workers-port.png")
    finally:
        browser.close()


def test_second_run_reuses_the_database(run_command):
    run_command.stop()
    run_command.start(timeout=120)
    assert f"database '{run_command.db_name}' is up to date" in run_command.output
    assert "Creating database" not in run_command.output
    assert Rpc(run_command, "dev", "dev").uid
