#!/usr/bin/env python3
"""Development environment for coop_developer_settings: ``run`` and ``test``.

One script, standard library only, so that a fresh clone needs nothing but
Python 3.10-3.12. Everything it builds lives in git-ignored folders of the
clone (``.venv``, ``.dev``) or in the user cache (the Odoo source).

    python3 tools/devtool.py run     # Odoo with the addon and demo data on :8069
    python3 tools/devtool.py test    # pre-commit + Odoo tests + pytest tests/
    python3 tools/devtool.py bench   # benchmarks/*.py, each prints a table
    python3 tools/devtool.py stop    # stop the embedded PostgreSQL

Where Odoo comes from (first that works):
  1. ``ODOO_SOURCE``: an Odoo 18.0 source tree, or a tarball path or URL;
  2. the cache folder ``${XDG_CACHE_HOME:-~/.cache}/coop-developer-settings/odoo-18.0``;
  3. the official Odoo 18.0 nightly source tarball, downloaded into that cache.

Where PostgreSQL comes from: ``--db-uri`` or ``PGHOST``/``PGPORT``/``PGUSER``/
``PGPASSWORD`` point at an existing server; otherwise the system's PostgreSQL
binaries run a private cluster in ``.dev/pgdata`` as an unprivileged user.
"""

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDON = "coop_developer_settings"
DEV = ROOT / ".dev"
VENV = ROOT / ".venv"
VENV_PY = VENV / "bin" / "python"
CONSTRAINTS = ROOT / "constraints.txt"
REQUIREMENTS_DEV = ROOT / "requirements-dev.txt"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / (
    "coop-developer-settings"
)
ODOO_CACHE = CACHE / "odoo-18.0"
NIGHTLY_URL = "https://nightly.odoo.com/18.0/nightly/src/odoo_18.0.latest.tar.gz"
# The embedded cluster's defaults; the port is unusual so that it never
# collides with a PostgreSQL already listening on 5432.
EMBEDDED_PORT = int(os.environ.get("COOP_PG_PORT", "54329"))
DB_ROLE = "odoo"
DB_PASSWORD = "odoo"
RUN_DB = os.environ.get("COOP_DB", "coop")
HTTP_PORT = int(os.environ.get("COOP_HTTP_PORT", "8069"))
# make run's HTTP workers: queue_job's channels get one less (see
# queue_job_channels), so that a page always has a worker free.
RUN_WORKERS = 3
# python-ldap only serves auth_ldap and needs system headers to build.
SKIPPED_ODOO_REQUIREMENTS = ("python-ldap",)
BROWSER_SKIP_PATTERNS = (
    "websocket-client module is not installed",
    "Chrome executable not found",
    "Error during Chrome",
    "Cannot connect to chrome",
    "Failed to detect chrome",
)


class DevError(Exception):
    """A failure with a message that says what to do next."""


def step(message):
    print(f"\n==> {message}", flush=True)


def info(message):
    print(f"    {message}", flush=True)


def run(cmd, check=True, **kwargs):
    """Run a command, streaming its output (pip progress, Odoo logs)."""
    result = subprocess.run([str(c) for c in cmd], check=False, **kwargs)
    if check and result.returncode:
        raise DevError(
            f"`{' '.join(str(c) for c in cmd)}` failed (exit {result.returncode})."
        )
    return result


def files_digest(*paths):
    """Hash of the content of files and folders, to know when to rebuild."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        items = sorted(path.rglob("*")) if path.is_dir() else [path]
        for item in items:
            if item.is_file() and "__pycache__" not in item.parts:
                digest.update(str(item.relative_to(path.parent)).encode())
                digest.update(item.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------
# Odoo source
# --------------------------------------------------------------------------


def is_odoo_18_tree(path):
    release = Path(path) / "odoo" / "release.py"
    if not release.is_file():
        return False
    match = re.search(r"^version_info = \((\d+), (\d+)", release.read_text(), re.M)
    return bool(match) and match.groups() == ("18", "0")


def extract_tarball(tarball, target):
    """Extract an Odoo source tarball into target, dropping its top folder."""
    info(f"extracting {tarball} into {target} ...")
    tmp = Path(tempfile.mkdtemp(prefix="odoo-src-", dir=CACHE))
    try:
        with tarfile.open(tarball) as archive:
            archive.extractall(tmp, filter="data")
        tops = [p for p in tmp.iterdir() if p.is_dir()]
        source = tops[0] if len(tops) == 1 else tmp
        if not is_odoo_18_tree(source):
            raise DevError(f"{tarball} does not hold an Odoo 18.0 source tree.")
        if target.exists():
            shutil.rmtree(target)
        source.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def download(url, dest):
    info(f"downloading {url}")
    try:
        with (
            urllib.request.urlopen(url, timeout=60) as response,
            open(dest, "wb") as out,
        ):
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            last = 0.0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                if time.monotonic() - last > 2:
                    last = time.monotonic()
                    pct = f" ({100 * done // total}%)" if total else ""
                    info(f"  {done >> 20} MiB{pct}")
    except OSError as exc:
        dest.unlink(missing_ok=True)
        raise DevError(f"could not download {url}: {exc}") from exc


def odoo_source():
    """Locate (or fetch) the Odoo 18.0 source tree; see the module docstring."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wanted = os.environ.get("ODOO_SOURCE", "").strip()
    try:
        if wanted:
            if Path(wanted).is_dir():
                if not is_odoo_18_tree(wanted):
                    raise DevError(f"ODOO_SOURCE={wanted} is not an Odoo 18.0 tree.")
                return Path(wanted).resolve()
            # A tarball (path or URL): extracted once per distinct source.
            key = hashlib.sha256(wanted.encode()).hexdigest()[:12]
            target = CACHE / f"odoo-src-{key}"
            if not is_odoo_18_tree(target):
                if urllib.parse.urlparse(wanted).scheme in ("http", "https"):
                    tarball = CACHE / f"odoo-src-{key}.tar.gz"
                    download(wanted, tarball)
                    extract_tarball(tarball, target)
                    tarball.unlink()
                elif Path(wanted).is_file():
                    extract_tarball(Path(wanted), target)
                else:
                    raise DevError(
                        f"ODOO_SOURCE={wanted} is neither a folder, a file nor a URL."
                    )
            return target
        if is_odoo_18_tree(ODOO_CACHE):
            return ODOO_CACHE
        step("No Odoo source yet: downloading the official 18.0 nightly")
        tarball = CACHE / "odoo_18.0.latest.tar.gz"
        download(NIGHTLY_URL, tarball)
        extract_tarball(tarball, ODOO_CACHE)
        tarball.unlink()
        return ODOO_CACHE
    except (DevError, OSError, tarfile.TarError) as exc:
        raise DevError(
            f"{exc}\nNo usable Odoo 18.0 source. Provide one of:\n"
            "  1. ODOO_SOURCE=/path/to/odoo-18.0-tree (or a .tar.gz path or URL);\n"
            f"  2. an Odoo 18.0 source tree in {ODOO_CACHE};\n"
            f"  3. network access to {NIGHTLY_URL}."
        ) from exc


# --------------------------------------------------------------------------
# Python environment
# --------------------------------------------------------------------------


def pip(*args):
    env = dict(os.environ)
    # Odoo 18's pinned sdists (cbor2...) need pkg_resources at build time:
    # the constraints file caps setuptools, for installs and build envs.
    env["PIP_CONSTRAINT"] = str(CONSTRAINTS)
    if "--no-build-isolation" not in args:
        env["PIP_BUILD_CONSTRAINT"] = str(CONSTRAINTS)
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    env.setdefault("PIP_PROGRESS_BAR", "on")
    run([VENV_PY, "-m", "pip", "install", *args], env=env)


def ensure_venv(odoo_dir):
    if sys.version_info[:2] < (3, 10) or sys.version_info[:2] > (3, 12):
        raise DevError(
            f"Odoo 18.0 runs on Python 3.10 to 3.12, not {sys.version.split()[0]}: "
            "run this tool with such a python3."
        )
    stamp = VENV / ".coop-stamp"
    wanted = files_digest(
        odoo_dir / "requirements.txt", CONSTRAINTS, REQUIREMENTS_DEV, ROOT / "setup.py"
    ) + str(odoo_dir)
    if stamp.is_file() and stamp.read_text() == wanted and VENV_PY.exists():
        info(f"Python environment {VENV} is up to date")
        return
    step(f"Building the Python environment in {VENV} (a few minutes the first time)")
    if not VENV_PY.exists():
        run([sys.executable, "-m", "venv", VENV])
    info("[1/4] pip, wheel and a setuptools that can build Odoo's pinned sdists")
    pip("--upgrade", "pip", "setuptools", "wheel")
    info("[2/4] Odoo 18.0 requirements")
    requirements = DEV / "odoo-requirements.txt"
    requirements.parent.mkdir(exist_ok=True)
    lines = (odoo_dir / "requirements.txt").read_text().splitlines()
    requirements.write_text(
        "\n".join(
            line for line in lines if not line.startswith(SKIPPED_ODOO_REQUIREMENTS)
        )
    )
    pip("-r", requirements)
    info("[3/4] Odoo 18.0 itself (editable, from the source tree)")
    # "compat" puts the source tree itself on sys.path: a strict editable
    # finder would lose to the odoo/addons namespace that addon wheels
    # (queue_job) install in site-packages.
    pip(
        "--no-build-isolation",
        "--no-deps",
        "--config-settings",
        "editable_mode=compat",
        "-e",
        odoo_dir,
    )
    info("[4/4] queue_job, requests and the development tools")
    # Odoo's own pins stay as they are: they constrain the tools too.
    pip("-r", REQUIREMENTS_DEV, "-c", requirements)
    stamp.write_text(wanted)


def venv_bin(name):
    return VENV / "bin" / name


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------


def external_db(args):
    """Connection settings of an existing PostgreSQL, or None for embedded."""
    if args.db_uri:
        uri = urllib.parse.urlparse(args.db_uri)
        return {
            "db_host": uri.hostname or "",
            "db_port": str(uri.port or 5432),
            "db_user": urllib.parse.unquote(uri.username or ""),
            "db_password": urllib.parse.unquote(uri.password or ""),
        }
    if os.environ.get("PGHOST"):
        return {
            "db_host": os.environ["PGHOST"],
            "db_port": os.environ.get("PGPORT", "5432"),
            "db_user": os.environ.get("PGUSER", DB_ROLE),
            "db_password": os.environ.get("PGPASSWORD", ""),
        }
    return None


def pg_bindir():
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False
        )
        candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise DevError(
        "No PostgreSQL server binaries (initdb, pg_ctl) found. Install them "
        "(Debian: apt-get install postgresql) or point to an existing server "
        "with PGHOST/PGPORT/PGUSER/PGPASSWORD or --db-uri."
    )


def as_pg_user(cmd):
    """PostgreSQL refuses to run as root: drop to 'nobody' when we are root."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "nobody", "--", *cmd]


def ensure_embedded_postgres():
    pgdata = DEV / "pgdata"
    bindir = pg_bindir()
    if not (pgdata / "PG_VERSION").exists():
        step(f"Creating the embedded PostgreSQL cluster in {pgdata}")
        pgdata.mkdir(parents=True, exist_ok=True)
        pwfile = DEV / "pgpass.tmp"
        pwfile.write_text(DB_PASSWORD + "\n")
        if os.geteuid() == 0:
            # 'nobody' must reach the folder and own the cluster.
            for path in (DEV, pgdata, pwfile):
                shutil.chown(path, "nobody")
        try:
            run(
                as_pg_user(
                    [
                        bindir / "initdb",
                        "-D",
                        pgdata,
                        "-U",
                        DB_ROLE,
                        "--pwfile",
                        pwfile,
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                    ]
                ),
                stdout=subprocess.DEVNULL,
            )
        finally:
            pwfile.unlink(missing_ok=True)
    status = subprocess.run(
        as_pg_user([str(bindir / "pg_ctl"), "-D", str(pgdata), "status"]),
        capture_output=True,
        check=False,
    )
    if status.returncode != 0:
        step(f"Starting the embedded PostgreSQL on 127.0.0.1:{EMBEDDED_PORT}")
        options = f"-p {EMBEDDED_PORT} -h 127.0.0.1 -k {pgdata}"
        result = run(
            as_pg_user(
                [
                    bindir / "pg_ctl",
                    "-D",
                    pgdata,
                    "-l",
                    pgdata / "server.log",
                    "-o",
                    options,
                    "-w",
                    "start",
                ]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
        )
        if result.returncode:
            log = (pgdata / "server.log").read_text(errors="replace")[-2000:]
            raise DevError(
                f"PostgreSQL did not start. End of {pgdata / 'server.log'}:\n{log}\n"
                f"If port {EMBEDDED_PORT} is taken, set COOP_PG_PORT to a free port."
            )
    return {
        "db_host": "127.0.0.1",
        "db_port": str(EMBEDDED_PORT),
        "db_user": DB_ROLE,
        "db_password": DB_PASSWORD,
    }


def stop_embedded_postgres():
    pgdata = DEV / "pgdata"
    if (pgdata / "PG_VERSION").exists():
        run(
            as_pg_user([pg_bindir() / "pg_ctl", "-D", pgdata, "-m", "fast", "stop"]),
            check=False,
        )


# --------------------------------------------------------------------------
# Odoo configuration and commands
# --------------------------------------------------------------------------


def queue_job_channels(workers):
    """Job capacity for a server with that many HTTP workers: one less.

    queue_job's runner runs each job through an HTTP request to a worker; with
    as many job slots as workers, slow webhook receivers could hold every
    worker and the web client would wait for them. Threaded (0 workers): 1.
    """
    capacity = max(int(workers) - 1, 1)
    return f"root:{capacity},root.webhook:{capacity}"


def write_config(odoo_dir, db, name, channels=None, **options):
    """An Odoo configuration file in .dev/ (never in the repository)."""
    values = {
        "addons_path": f"{odoo_dir / 'odoo' / 'addons'},{ROOT}",
        "data_dir": str(DEV / "data"),
        "http_interface": "127.0.0.1",
        "http_port": str(HTTP_PORT),
        "gevent_port": str(HTTP_PORT + 3),
        "server_wide_modules": "base,web,queue_job",
        "workers": "2",
        "max_cron_threads": "1",
        "limit_time_real": "600",
        "limit_time_cpu": "300",
        "proxy_mode": "False",
        "list_db": "True",
        **db,
        **options,
    }
    lines = ["[options]"] + [f"{key} = {value}" for key, value in values.items()]
    # Webhook deliveries get their own channel and capacity, so that slow
    # receivers never starve other jobs; queue_job's runner reads this.
    channels = channels or queue_job_channels(values["workers"])
    lines += ["", "[queue_job]", f"channels = {channels}"]
    path = DEV / name
    path.write_text("\n".join(lines) + "\n")
    return path


def odoo_cmd(config, *args):
    return [venv_bin("odoo"), "-c", config, *args]


class OdooLog:
    """Streams an Odoo run: full log to a file, progress lines to the screen."""

    PROGRESS = re.compile(
        r" (WARNING|ERROR|CRITICAL) "
        r"|odoo\.modules\.loading: (loading|\d+ modules)"
        r"|odoo\.tests\.(result|stats)"
        r"|odoo\.service\.server: (Initiating|Stopping|HTTP)"
        r"|: (FAIL|ERROR):|Starting .*Test|odoo\.modules\.registry: Registry loaded"
    )

    def __init__(self, path, verbose=False):
        self.path = path
        self.verbose = verbose

    def run(self, cmd, env=None):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w") as log:
            proc = subprocess.Popen(
                [str(c) for c in cmd],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
            )
            show = False
            for line in proc.stdout:
                log.write(line)
                # A multi-line entry (traceback) follows its first line.
                if re.match(r"\d{4}-\d\d-\d\d ", line):
                    show = self.verbose or bool(self.PROGRESS.search(line))
                if show:
                    sys.stdout.write("    " + line)
                    sys.stdout.flush()
            return proc.wait()


def ensure_database(odoo_dir, config, db_name):
    """Create the database with demo data, or update the addon if it changed."""
    stamp = DEV / f"db-{db_name}.stamp"
    wanted = files_digest(ROOT / ADDON) + str(odoo_dir)
    if stamp.is_file() and stamp.read_text() == wanted:
        info(f"database '{db_name}' is up to date")
        return
    fresh = not stamp.is_file()
    action = "-i" if fresh else "-u"
    step(
        f"{'Creating or initialising' if fresh else 'Updating'} database '{db_name}' "
        f"with {ADDON} and demo data"
        + (" (about two minutes the first time)" if fresh else "")
    )
    log = OdooLog(DEV / "logs" / f"{db_name}-install.log")
    rc = log.run(
        odoo_cmd(
            config, "-d", db_name, action, ADDON, "--stop-after-init", "--workers=0"
        )
    )
    if rc:
        raise DevError(
            f"installing {ADDON} in '{db_name}' failed; full log: {log.path}. "
            "Fix the error shown above, then run the command again."
        )
    stamp.write_text(wanted)


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------


def prepare(args):
    """Everything run and test share: Odoo source, venv, PostgreSQL."""
    step("Locating the Odoo 18.0 source")
    odoo_dir = odoo_source()
    info(f"Odoo source: {odoo_dir}")
    ensure_venv(odoo_dir)
    db = external_db(args) or ensure_embedded_postgres()
    return odoo_dir, db


def port_is_free(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def cmd_run(args):
    if not port_is_free(HTTP_PORT):
        raise DevError(
            f"port {HTTP_PORT} is already in use (another `make run`?). Stop that "
            "server, or set COOP_HTTP_PORT to a free port."
        )
    odoo_dir, db = prepare(args)
    config = write_config(odoo_dir, db, "odoo-run.conf", workers=str(RUN_WORKERS))
    ensure_database(odoo_dir, config, RUN_DB)
    step(f"Odoo is starting on http://127.0.0.1:{HTTP_PORT}  (Ctrl+C stops it)")
    info(f"database: {RUN_DB}   logins: admin / admin  (demo: demo / demo)")
    info(f"configuration: {config}")
    sys.stdout.flush()
    os.execv(
        str(venv_bin("odoo")),
        [
            str(venv_bin("odoo")),
            "-c",
            str(config),
            "-d",
            RUN_DB,
            "--db-filter",
            f"^{RUN_DB}$",
        ],
    )


def ensure_test_tools():
    """Odoo silently skips tours without Chromium, and the README's Node.js
    snippet is run by a test: make sure both are there."""
    missing = [
        package
        for command, package in (("chromium", "chromium"), ("node", "nodejs"))
        if not shutil.which(command)
        and not (command == "chromium" and shutil.which("google-chrome"))
    ]
    if not missing:
        return
    if os.geteuid() != 0:
        raise DevError(
            f"{' and '.join(missing)} needed by the tests: install "
            f"(Debian: sudo apt-get install {' '.join(missing)}) and run them again."
        )
    step(f"Installing {' and '.join(missing)} for the tests (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-q"], env=env)
    run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_precommit():
    step("pre-commit checks (ruff, pylint-odoo, OCA checks, XML/JSON/YAML)")
    env = dict(os.environ, PIP_CONSTRAINT="", PIP_BUILD_CONSTRAINT="")
    result = run(
        [
            venv_bin("pre-commit"),
            "run",
            "--all-files",
            "--show-diff-on-failure",
            "--color=never",
        ],
        check=False,
        cwd=ROOT,
        env=env,
    )
    if result.returncode:
        info("pre-commit failed: fix what it reports (or let it fix it) and commit.")
    return result.returncode == 0


def run_odoo_tests(odoo_dir, db):
    """The addon's tests, at install and post install, in a throwaway database."""
    db_name = f"coop_test_{os.getpid()}_{secrets.token_hex(3)}"
    config = write_config(
        odoo_dir,
        db,
        "odoo-test.conf",
        http_port=str(free_port()),
        gevent_port=str(free_port()),
        workers="0",
        max_cron_threads="0",
    )
    step(f"Odoo tests of {ADDON} in a fresh database '{db_name}' (a few minutes)")
    log = OdooLog(DEV / "logs" / "odoo-tests.log")
    rc = log.run(
        odoo_cmd(
            config,
            "-d",
            db_name,
            "-i",
            ADDON,
            "--test-enable",
            "--test-tags",
            f"/{ADDON}",
            "--stop-after-init",
            "--log-level=test",
        )
    )
    text = log.path.read_text(errors="replace")
    if os.environ.get("COOP_KEEP_DB"):
        info(f"kept database {db_name} (COOP_KEEP_DB is set)")
    else:
        drop_db(config, db_name)
    failed = errors = total = 0
    for match in re.finditer(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests", text):
        failed, errors, total = (int(g) for g in match.groups())
    skipped_browser = [p for p in BROWSER_SKIP_PATTERNS if p in text]
    problems = failed + errors
    if skipped_browser:
        info(f"browser tests were skipped ({skipped_browser[0]}): counted as failed")
        problems += 1
    if rc and not problems:
        info(f"Odoo exited with {rc} (see {log.path}): counted as failed")
        problems = 1
    if total == 0:
        info(f"no Odoo test ran (see {log.path}): counted as failed")
        problems = max(problems, 1)
    passed = max(total - failed - errors, 0)
    info(f"Odoo tests: {passed} passed, {problems} failed (log: {log.path})")
    return passed, problems


def drop_db(config, db_name):
    code = (
        "import sys, odoo; from odoo.tools import config;"
        "config.parse_config(['-c', sys.argv[1]]);"
        "import odoo.service.db as d; d.exp_drop(sys.argv[2])"
    )
    run([VENV_PY, "-c", code, config, db_name], check=False, stdout=subprocess.DEVNULL)


def harness_env(odoo_dir, db):
    """What tests/harness.py needs to start Odoo: where it and PostgreSQL are."""
    return dict(
        os.environ,
        COOP_ODOO_SOURCE=str(odoo_dir),
        COOP_ODOO_BIN=str(venv_bin("odoo")),
        COOP_DB_SETTINGS=json.dumps(db),
        PIP_CONSTRAINT=str(CONSTRAINTS),
        PIP_BUILD_CONSTRAINT=str(CONSTRAINTS),
    )


def run_pytest(odoo_dir, db):
    step("pytest tests/ (out-of-process: wheel, install/upgrade/uninstall, end to end)")
    report = DEV / "pytest-report.xml"
    report.unlink(missing_ok=True)
    env = harness_env(odoo_dir, db)
    rc = run(
        [
            venv_bin("pytest"),
            "tests",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            "-ra",
        ],
        check=False,
        cwd=ROOT,
        env=env,
    ).returncode
    if not report.exists():
        info("pytest wrote no report: counted as failed")
        return 0, 1
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    total, failures, errors, skipped = (
        int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")
    )
    failed = failures + errors + skipped  # a skip would read as a pass: it is not one
    if rc and not failed:
        failed = 1
    if total == 0:
        info("pytest collected no test: counted as failed")
        failed = max(failed, 1)
    return total - failures - errors - skipped, failed


def cmd_test(args):
    odoo_dir, db = prepare(args)
    ensure_test_tools()
    passed = failed = 0
    if not run_precommit():
        failed += 1
    for suite in (run_odoo_tests, run_pytest):
        suite_passed, suite_failed = suite(odoo_dir, db)
        passed += suite_passed
        failed += suite_failed
    print(f"\n{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def cmd_bench(args):
    """Benchmarks print tables; they are not tests and not part of `test`."""
    odoo_dir, db = prepare(args)
    names = args.names or sorted(
        p.stem
        for p in (ROOT / "benchmarks").glob("[a-z]*.py")
        if not p.stem.endswith("_shell")
    )
    for name in names:
        step(f"benchmark {name}")
        script = ROOT / "benchmarks" / f"{name}.py"
        if not script.exists():
            raise DevError(f"no benchmark {script}; choose among benchmarks/*.py")
        run([VENV_PY, script], env=harness_env(odoo_dir, db), cwd=ROOT)


def cmd_stop(args):
    stop_embedded_postgres()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "test", "bench", "stop"))
    parser.add_argument(
        "names", nargs="*", help="bench: which benchmarks (default all)"
    )
    parser.add_argument(
        "--db-uri",
        default=os.environ.get("COOP_DB_URI"),
        help="postgresql://user:password@host:port of an existing server",
    )
    args = parser.parse_args(argv)
    commands = {"run": cmd_run, "test": cmd_test, "bench": cmd_bench, "stop": cmd_stop}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return commands[args.command](args) or 0
    except DevError as exc:
        print(f"\nERROR: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
