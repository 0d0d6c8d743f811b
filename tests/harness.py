"""A real Odoo driven from outside: used by tests/ and benchmarks/.

Plain classes, no test framework: a database and its odoo-bin, a running
server as `make run` starts it (workers, queue_job's runner), XML-RPC as one
user, the web client's JSON-RPC, headless Chromium, and waiting for a
condition.
"""

import base64
import configparser
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
import xmlrpc.client
from datetime import datetime, timedelta
from pathlib import Path

import psycopg2
import requests
import websocket

ROOT = Path(__file__).resolve().parent.parent
ADDON = "coop_developer_settings"
# The dev tool's package owns the Odoo configuration; the addon tests' plain
# HTTP receiver (receiver.py) and Hypothesis profiles serve these tests too;
# the addon's plain packages are imported by their name, without Odoo
# (`from coop_developer_settings.webhook import signing`).
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / ADDON / "tests"))
sys.path.insert(0, str(ROOT))

from coopdev import commands  # noqa: E402
from coopdev.console import DevError  # noqa: E402
from coopdev.odoo import (  # noqa: E402
    copy_database,
    drop_db,
    filestore,
    free_port,
    write_config,
)
from coopdev.postgres import settings_uri  # noqa: E402, F401 (for the tests)
from coopdev.project import DEV  # noqa: E402
from coopdev.templates import ensure_template  # noqa: E402

ADMIN = ("admin", "admin")
GROUP_XMLID = f"{ADDON}.group_developer_settings"
DEV_LOGS = DEV / "logs"
HARNESS_VARIABLES = ("COOP_ODOO_SOURCE", "COOP_ODOO_BIN", "COOP_DB_SETTINGS")


def odoo_env_from_environ():
    """Where Odoo and PostgreSQL are, as the dev tool tells (make test)."""
    missing = [name for name in HARNESS_VARIABLES if not os.environ.get(name)]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not set: run through `make test` or `make bench`, "
            "which prepare Odoo and PostgreSQL."
        )
    return {
        "source": Path(os.environ["COOP_ODOO_SOURCE"]),
        "bin": os.environ["COOP_ODOO_BIN"],
        "db": json.loads(os.environ["COOP_DB_SETTINGS"]),
    }


def locate_odoo_env():
    """Where Odoo and PostgreSQL are: as `make test` tells, or, for pytest
    run alone (inside .venv, which conftest.py checks), prepared here by the
    dev tool's package (the server of PGHOST/COOP_DB_URI, or the embedded
    cluster).

    Raises RuntimeError with one line that says what to run instead.
    """
    if all(os.environ.get(name) for name in HARNESS_VARIABLES):
        return odoo_env_from_environ()
    try:
        odoo_dir, db = commands.prepare(os.environ.get("COOP_DB_URI"), build=False)
    except DevError as exc:
        reason = str(exc).splitlines()[0].rstrip(".")
        if "`make test`" not in reason:
            reason += "; run `make test`, which prepares them and says why"
        raise RuntimeError(
            f"pytest alone could not prepare Odoo and PostgreSQL: {reason}"
        ) from exc
    os.environ.update(commands.harness_env(odoo_dir, db))
    return odoo_env_from_environ()


def template(odoo_env, demo=True, depends=None):
    """The template database of the addon's dependencies (or of depends),
    with or without demo data: built the first time (see coopdev.templates)."""
    return ensure_template(odoo_env["source"], odoo_env["db"], depends, demo=demo)


class OdooCli:
    """Runs odoo-bin against one throwaway database."""

    def __init__(self, odoo_env, db_name, **options):
        self.bin = odoo_env["bin"]
        self.db_settings = odoo_env["db"]
        self.db_name = db_name
        self.data_dir = Path(options.get("data_dir", DEV / "data"))
        self.http_port = free_port()
        self.config = write_config(
            odoo_env["source"],
            odoo_env["db"],
            f"odoo-{db_name}.conf",
            **{
                "http_port": str(self.http_port),
                "gevent_port": str(free_port()),
                "workers": "0",
                "max_cron_threads": "0",
                **options,
            },
        )

    def copy(self, template):
        """Create the database as a copy of a template database, its files
        in this database's data directory."""
        copy_database(self.db_settings, template, self.db_name)
        files = self.data_dir / "filestore" / self.db_name
        if filestore(self.db_name).exists() and files != filestore(self.db_name):
            files.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(filestore(self.db_name), files)
        return self

    def run(self, *args, timeout=900):
        """odoo-bin with this database; returns (returncode, log text)."""
        result = subprocess.run(
            [self.bin, "-c", self.config, "-d", self.db_name, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return result.returncode, result.stdout + result.stderr

    def shell(self, code):
        """Run Python in ``odoo shell`` (``env`` is there); returns its stdout."""
        result = subprocess.run(
            [self.bin, "shell", "-c", self.config, "-d", self.db_name, "--no-http"],
            input=code + "\nenv.cr.commit()\n",
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def drop(self):
        drop_db(self.config, self.db_name)
        Path(self.config).unlink(missing_ok=True)


class OdooServer:
    """A running Odoo, as `make run` starts it: workers, queue_job's runner."""

    def __init__(self, cli, log_path):
        self.cli = cli
        self.url = f"http://127.0.0.1:{cli.http_port}"
        self.db = cli.db_name
        self.log_path = log_path
        self.process = None

    def start(self, timeout=120):
        log = open(self.log_path, "a")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                self.cli.bin,
                "-c",
                self.cli.config,
                "-d",
                self.db,
                "--db-filter",
                f"^{self.db}$",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Odoo exited with {self.process.returncode}: see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(
                    f"{self.url}/web/login", timeout=5
                ) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(
            f"Odoo did not answer within {timeout}s: see {self.log_path}"
        )

    def run_cron_now(self, rpc, xmlid):
        """Have the server's cron worker run a scheduled action now, as
        Odoo's own ``ir.cron._trigger()`` does: a trigger, and the
        notification that wakes the worker (instead of its minute's sleep)."""
        rpc(
            "ir.cron.trigger",
            "create",
            {
                "cron_id": rpc.ref(xmlid),
                "call_at": f"{datetime.utcnow():%Y-%m-%d %H:%M:%S}",
            },
        )
        config = configparser.ConfigParser()
        config.read(self.cli.config)
        options = config["options"]
        # The worker listens on the "postgres" database, as Odoo notifies it.
        with (
            psycopg2.connect(
                dbname="postgres",
                host=options["db_host"],
                port=options["db_port"],
                user=options["db_user"],
                password=options["db_password"],
            ) as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute("SELECT pg_notify('cron_trigger', %s)", [self.db])

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class Rpc:
    """XML-RPC as one user: call(model, method, *args, **kwargs)."""

    def __init__(self, server, login, password):
        self.server = server
        self.db = server.db
        self.login = login
        self.password = password
        common = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/common")
        self.uid = common.authenticate(self.db, login, password, {})
        assert self.uid, f"{login} could not log in"
        self.object = xmlrpc.client.ServerProxy(
            f"{server.url}/xmlrpc/2/object", allow_none=True
        )

    def __call__(self, model, method, *args, **kwargs):
        return self.object.execute_kw(
            self.db, self.uid, self.password, model, method, list(args), kwargs
        )

    def ref(self, xmlid):
        return self("ir.model.data", "check_object_reference", *xmlid.split("."))[1]

    def set_params(self, **params):
        for name, value in params.items():
            self("ir.config_parameter", "set_param", f"{ADDON}.{name}", value)


class WebClient:
    """What the browser does: a session, then the web client's JSON-RPC."""

    def __init__(self, server, login, password):
        self.server = server
        self.session = requests.Session()
        self.uid = self.rpc(
            "/web/session/authenticate",
            {"db": server.db, "login": login, "password": password},
        )["uid"]

    def rpc(self, path, params):
        response = self.session.post(
            self.server.url + path,
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        body = response.json()
        assert "error" not in body, body["error"]["data"]["message"]
        return body["result"]

    def call(self, model, method, args, kwargs=None):
        return self.rpc(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )

    def generate_api_key(self, name, password=None, scope="full"):
        """The Developer settings tab's flow: wizard, password check, key.

        Without password, the password was checked in the last minutes:
        Odoo does not ask again.
        """
        action = self.call("res.users", "action_coop_generate_api_key", [[self.uid]])
        wizard_id = self.call(
            action["res_model"],
            "create",
            [{"name": name, "duration": "30", "coop_scope": scope}],
        )
        shown = self.call("coop.api.key.wizard", "make_key", [[wizard_id]])
        if password is None:
            assert shown["res_model"] == "res.users.apikeys.show", shown
            return shown["context"]
        return self.confirm_password(shown, password)["context"]

    def confirm_password(self, check, password):
        """Answer Odoo's password check; returns what the checked action
        returns."""
        assert check["res_model"] == "res.users.identitycheck", (
            "the password is asked first"
        )
        self.call(
            "res.users.identitycheck",
            "write",
            [[check["res_id"]], {"password": password}],
        )
        return self.call("res.users.identitycheck", "run_check", [[check["res_id"]]])

    def reveal_secret(self, endpoint_id, password):
        """Secret, as its button runs it: the password, then the secret."""
        check = self.call(
            "coop.webhook.endpoint", "action_reveal_secret", [[endpoint_id]]
        )
        shown = self.confirm_password(check, password)
        return shown["context"]["default_secret"]


def signing_secret(rpc, endpoint_id):
    """An endpoint's signing secret, revealed to rpc's user as the web client
    does (no RPC read returns it)."""
    web = WebClient(rpc.server, rpc.login, rpc.password)
    return web.reveal_secret(endpoint_id, rpc.password)


def create_developer(admin, login, name):
    """A user of the main shop with the Developer settings access; their
    password is "<login>-pw"."""
    return admin(
        "res.users",
        "create",
        {
            "name": name,
            "login": login,
            "password": f"{login}-pw",
            "groups_id": [
                (6, 0, [admin.ref("base.group_user"), admin.ref(GROUP_XMLID)])
            ],
        },
    )


def wait_for(predicate, timeout=60, interval=0.2, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def cycle_values(name, opens_in=timedelta(0), lasts=timedelta(days=1)):
    """Values of a sale cycle that opens now (or opens_in from now), in UTC."""
    date_open = datetime.utcnow() + opens_in
    return {
        "name": name,
        "date_open": f"{date_open:%Y-%m-%d %H:%M:%S}",
        "date_close": f"{date_open + lasts:%Y-%m-%d %H:%M:%S}",
    }


def readme_code_block(language, containing):
    """The README's one code block of language that holds containing, as
    it runs (dedented); blocks indented in a definition list count too."""
    text = (ROOT / "README.rst").read_text()
    blocks = [
        textwrap.dedent(block)
        for _indent, block in re.findall(
            rf"( *)\.\. code-block:: {language}\n\n((?:\1   .*\n|\n)+)", text
        )
        if containing in block
    ]
    assert len(blocks) == 1, f"one {language} block with {containing!r} in README"
    return blocks[0]


class Chromium:
    """Headless Chromium driven over its DevTools protocol: what a person sees.

    ``open(url)``, ``evaluate(js)``, ``wait_until(js)``, ``screenshot(path)``.
    """

    FLAGS = (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    )

    def __init__(self, width=1400, height=1000):
        binary = shutil.which("chromium") or shutil.which("google-chrome")
        assert binary, "Chromium is missing: `make test` installs it (apt-get)"
        self.profile = tempfile.mkdtemp(prefix="coop-chromium-")
        port = free_port()
        self.process = subprocess.Popen(
            [
                binary,
                *self.FLAGS,
                f"--remote-debugging-port={port}",
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        page = wait_for(
            lambda: self._page_target(port), timeout=30, what="Chromium's DevTools"
        )
        self.connection = websocket.create_connection(
            page["webSocketDebuggerUrl"], suppress_origin=True, timeout=30
        )
        self.ids = itertools.count(1)

    @staticmethod
    def _page_target(port):
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/json/list", timeout=5
            ) as answer:
                targets = json.load(answer)
        except OSError:
            return None
        return next((t for t in targets if t["type"] == "page"), None)

    def send(self, method, **params):
        message_id = next(self.ids)
        self.connection.send(
            json.dumps({"id": message_id, "method": method, "params": params})
        )
        while True:  # events come in between; the answer carries our id
            message = json.loads(self.connection.recv())
            if message.get("id") == message_id:
                assert "error" not in message, f"{method}: {message['error']}"
                return message["result"]

    def set_cookie(self, url, name, value):
        self.send("Network.setCookie", url=url, name=name, value=value)

    def open(self, url):
        self.send("Page.navigate", url=url)

    def evaluate(self, expression):
        result = self.send(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        return result["result"].get("value")

    def wait_until(self, expression, timeout=60, what=None):
        return wait_for(
            lambda: self.evaluate(expression),
            timeout=timeout,
            interval=0.5,
            what=what or expression,
        )

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png")["data"]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(data))

    def close(self):
        self.connection.close()
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)
        shutil.rmtree(self.profile, ignore_errors=True)
