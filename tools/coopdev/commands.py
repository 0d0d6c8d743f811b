"""The commands behind the Makefile: ``run``, ``test``, ``unit``,
``pictures``, ``bench``, ``stop``."""

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

from . import postgres
from .console import DevError, info, run, run_logged, step
from .odoo import (
    DEMO_FAILED,
    LANGUAGE,
    OdooLog,
    copy_database,
    drop_db,
    ensure_database,
    free_port,
    odoo_cmd,
    port_is_free,
    write_config,
)
from .project import ADDON, CONSTRAINTS, DEV, HTTP_PORT, ROOT, RUN_DB, VENV_PY
from .proxy import OdooProxy, listen
from .pyenv import ensure_venv, installed_odoo_source, venv_bin
from .source import odoo_source
from .templates import TEST_TEMPLATES, ensure_template

# The tag of the addon's pictures tests (PicturesCase's).
PICTURES_TAG = "coop_pictures"
BROWSER_SKIP_PATTERNS = (
    "websocket-client module is not installed",
    "Chrome executable not found",
    "Error during Chrome",
    "Cannot connect to chrome",
    "Failed to detect chrome",
)


def prepare(db_uri=None, build=True):
    """Everything the commands share: Odoo source, venv, PostgreSQL.

    Without ``build`` (from inside ``.venv``: pytest alone), the environment
    must be up to date already; its Odoo source is the one it was built from.
    """
    if build:
        step("Locating the Odoo 18.0 source")
        odoo_dir = odoo_source()
        info(f"Odoo source: {odoo_dir}")
        ensure_venv(odoo_dir)
    else:
        odoo_dir = installed_odoo_source()
    db = postgres.external_db(db_uri) or postgres.ensure_embedded_postgres()
    return odoo_dir, db


def run_summary(config):
    """What `make run` prints once Odoo answers."""
    url = f"http://127.0.0.1:{HTTP_PORT}"
    step(f"Odoo is ready on {url}   (Ctrl+C stops it)")
    for line in (
        f"database: {RUN_DB}   configuration: {config}",
        "logins: admin / admin (administrator), demo / demo, "
        "dev / dev (Developer settings access, in French)",
        "the Developer settings tab: log in as dev, then the user menu (top right) "
        "> Préférences (Preferences; My Profile / Mon profil with Employees) "
        "> Paramètres développeur (Developer settings)",
        "API keys: none is created in advance; generate one in the tab "
        "(Générer une clé d'API / Generate API key): it is shown once, copy it then",
        f"real-time (the web client's bus): {url}/websocket goes to Odoo's "
        "gevent port, the rest to its HTTP workers",
    ):
        info(line)


def cmd_run(args):
    if not port_is_free(HTTP_PORT):
        raise DevError(
            f"port {HTTP_PORT} is already in use (another `make run`?). Stop that "
            "server, or set COOP_HTTP_PORT to a free port."
        )
    odoo_dir, db = prepare(args.db_uri)
    # Odoo listens on internal ports; the proxy on the public one routes
    # /websocket to the gevent port, as Odoo's recommended deployment does.
    proxy = OdooProxy(http_port=free_port(), gevent_port=free_port())
    config = write_config(
        odoo_dir,
        db,
        f"odoo-{RUN_DB}.conf",
        http_port=str(proxy.http_port),
        gevent_port=str(proxy.gevent_port),
    )
    ensure_database(
        odoo_dir,
        config,
        db,
        RUN_DB,
        template=lambda: ensure_template(odoo_dir, db, languages=(LANGUAGE,)),
    )
    try:
        public_socket = listen(HTTP_PORT)
    except OSError as exc:
        raise DevError(
            f"cannot listen on 127.0.0.1:{HTTP_PORT} ({exc}): set COOP_HTTP_PORT "
            "to a free port."
        ) from exc
    step(f"Starting Odoo for http://127.0.0.1:{HTTP_PORT}  (Ctrl+C stops it)")
    server = subprocess.Popen(
        [str(c) for c in odoo_cmd(config, "-d", RUN_DB, "--db-filter", f"^{RUN_DB}$")]
    )
    interrupted = False
    try:
        rc = asyncio.run(
            proxy.serve_while(public_socket, server, lambda: run_summary(config))
        )
    except KeyboardInterrupt:
        interrupted, rc = True, 130
    finally:
        # Ctrl+C reached Odoo too (same process group): it is stopping.
        stop_process(server, signalled=interrupted)
    if rc not in (0, 130, -signal.SIGINT, -signal.SIGTERM):
        raise DevError(f"Odoo stopped with exit code {rc}: see its log above.")
    return 0


def stop_process(process, signalled, timeout=60):
    """Ask Odoo to stop gracefully, unless it got the signal already; then
    make sure it is gone."""
    if not signalled and process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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


def run_precommit():
    """pre-commit on every file; its output is shown once it is done (it
    runs beside the test suites)."""
    step("pre-commit checks (ruff, pylint-odoo, OCA checks, README, XML/JSON/YAML)")
    env = dict(os.environ, PIP_CONSTRAINT="", PIP_BUILD_CONSTRAINT="")
    log = DEV / "logs" / "pre-commit.log"
    rc = run_logged(
        [
            venv_bin("pre-commit"),
            "run",
            "--all-files",
            "--show-diff-on-failure",
            "--color=never",
        ],
        log,
        lambda line: False,
        env=env,
        cwd=ROOT,
    )
    if rc:
        step("pre-commit failed: fix what it reports (or let it fix it) and commit")
        sys.stdout.write(log.read_text(errors="replace"))
    else:
        info(f"pre-commit: all checks passed (log: {log})")
    return (0, 1) if rc else (0, 0)


def run_odoo_tests(odoo_dir, db, test_tags=f"/{ADDON}", env=None):
    """The addon's tests, at install and post install, in a throwaway copy
    of the template database, where the addon is installed."""
    db_name = f"coop_test_{os.getpid()}_{secrets.token_hex(3)}"
    config = write_config(
        odoo_dir,
        db,
        f"odoo-{db_name}.conf",
        http_port=str(free_port()),
        gevent_port=str(free_port()),
        workers="0",
        max_cron_threads="0",
    )
    step(f"Odoo tests of {ADDON} in '{db_name}', a copy of the template (minutes)")
    copy_database(db, ensure_template(odoo_dir, db), db_name)
    log = OdooLog(DEV / "logs" / "odoo-tests.log", prefix="odoo   | ")
    rc = log.run(
        odoo_cmd(
            config,
            "-d",
            db_name,
            "-i",
            ADDON,
            "--test-enable",
            "--test-tags",
            test_tags,
            "--stop-after-init",
            "--log-level=test",
        ),
        env=env,
    )
    text = log.path.read_text(errors="replace")
    if os.environ.get("COOP_KEEP_DB"):
        info(f"kept database {db_name} (COOP_KEEP_DB is set)")
    else:
        drop_db(config, db_name)
    config.unlink(missing_ok=True)
    failed = errors = total = 0
    for match in re.finditer(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests", text):
        failed, errors, total = (int(g) for g in match.groups())
    skipped_browser = [p for p in BROWSER_SKIP_PATTERNS if p in text]
    problems = failed + errors
    if DEMO_FAILED in text:
        info("the demo data failed to load (Odoo went on without): counted as failed")
        problems += 1
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


def harness_env(odoo_dir, db):
    """What tests/harness.py needs to start Odoo: where it and PostgreSQL are."""
    return {
        "COOP_ODOO_SOURCE": str(odoo_dir),
        "COOP_ODOO_BIN": str(venv_bin("odoo")),
        "COOP_DB_SETTINGS": json.dumps(db),
        "PIP_CONSTRAINT": str(CONSTRAINTS),
        "PIP_BUILD_CONSTRAINT": str(CONSTRAINTS),
    }


def run_pytest(
    odoo_dir, db, paths=("tests",), name="pytest", prefix="pytest | ", options=()
):
    """pytest on paths; each line of its output shown after prefix, and its
    junit report read back."""
    report = DEV / f"{name}-report.xml"
    report.unlink(missing_ok=True)
    rc = run_logged(
        [
            venv_bin("pytest"),
            *paths,
            *options,
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            "-ra",
        ],
        DEV / "logs" / f"{name}.log",
        lambda line: True,
        env=dict(os.environ, **harness_env(odoo_dir, db)) if odoo_dir else None,
        cwd=ROOT,
        prefix=prefix,
    )
    if not report.exists():
        info(f"{name} wrote no report: counted as failed")
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
        info(f"{name} collected no test: counted as failed")
        failed = max(failed, 1)
    passed = total - failures - errors - skipped
    info(f"{name}: {passed} passed, {failed} failed")
    return passed, failed


def run_unit_tests(odoo_dir=None, db=None, prefix=""):
    step("Unit tests: tests/unit/ (the plain packages and tools, no database)")
    return run_pytest(odoo_dir, db, paths=("tests/unit",), name="unit", prefix=prefix)


# The out-of-process tests mostly wait (for servers, receivers, deadlines):
# in this many processes, grouped as tests/conftest.py says (one server per
# process at most), they take the time of the longest group.
PYTEST_PROCESSES = 3


def run_integration_tests(odoo_dir, db):
    step(
        "pytest tests/ (out-of-process: wheel, install/upgrade/uninstall, end to "
        f"end), in {PYTEST_PROCESSES} processes"
    )
    return run_pytest(
        odoo_dir,
        db,
        paths=("tests", "--ignore=tests/unit"),
        options=(
            f"--numprocesses={PYTEST_PROCESSES}",
            "--dist=loadgroup",
            "--no-loadscope-reorder",  # conftest.py puts the longest first
        ),
    )


class Stages:
    """The time of each stage of a command, printed at its end."""

    def __init__(self):
        self.times = []
        self.started = time.monotonic()

    def timed(self, name, function, *args):
        started = time.monotonic()
        try:
            return function(*args)
        finally:
            self.times.append((name, time.monotonic() - started))

    def report(self):
        step("Time of each stage (suites in parallel overlap)")
        for name, seconds in self.times:
            info(f"{name:<42} {minutes(seconds)}")
        info(f"{'total':<42} {minutes(time.monotonic() - self.started)}")


def minutes(seconds):
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def cmd_test(args):
    """The unit tests at once (no database: they say early what is broken),
    the template database of the Odoo tests meanwhile; then pre-commit and
    the Odoo tests, the longest suite, while the other templates are built;
    then the out-of-process tests (on copies of the templates). The suites
    run in parallel: much of their time is spent waiting for servers,
    answers and deadlines."""
    stages = Stages()
    odoo_dir, db = stages.timed(
        "environment (venv, PostgreSQL, tools)", prepare_test, args
    )
    with ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(
                stages.timed,
                "unit tests",
                run_unit_tests,
                odoo_dir,
                db,
                "unit   | ",
            )
        ]
        stages.timed(
            "template database of the Odoo tests", ensure_template, odoo_dir, db
        )
        futures += [
            pool.submit(stages.timed, "pre-commit", run_precommit),
            pool.submit(stages.timed, "Odoo tests", run_odoo_tests, odoo_dir, db),
        ]
        stages.timed(
            "template databases of the pytest tests",
            ensure_test_templates,
            odoo_dir,
            db,
        )
        futures.append(
            pool.submit(
                stages.timed,
                "out-of-process tests (pytest)",
                run_integration_tests,
                odoo_dir,
                db,
            )
        )
        results = [future.result() for future in futures]
    stages.report()
    passed = sum(suite_passed for suite_passed, _ in results)
    failed = sum(suite_failed for _, suite_failed in results)
    print(f"\n{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def prepare_test(args):
    odoo_dir, db = prepare(args.db_uri)
    ensure_test_tools()
    return odoo_dir, db


def ensure_test_templates(odoo_dir, db):
    """Every template the suites copy (the Odoo tests' among them), those
    missing built side by side: each build is one Odoo process."""
    with ThreadPoolExecutor(len(TEST_TEMPLATES)) as pool:
        builds = [
            pool.submit(ensure_template, odoo_dir, db, **options)
            for options in TEST_TEMPLATES
        ]
        for build in builds:
            build.result()


def cmd_unit(args):
    """The unit tests alone: the Python environment, no Odoo server, no
    database."""
    ensure_venv(odoo_source())
    passed, failed = run_unit_tests()
    print(f"\n{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def cmd_pictures(args):
    """The README's pictures (the Developer settings tab, its Newsletter
    tools, the settings page), taken again from the running code (the tests
    check the same screens without writing): every class of
    tests/test_developer_tab_pictures.py, tagged so."""
    odoo_dir, db = prepare(args.db_uri)
    ensure_test_tools()
    passed, failed = run_odoo_tests(
        odoo_dir,
        db,
        test_tags=f"{PICTURES_TAG}/{ADDON}",
        env=dict(os.environ, COOP_WRITE_PICTURES="1"),
    )
    if failed or not passed:
        raise DevError("the pictures were not all taken: see the log above")
    info(
        f"pictures taken again; those that changed are rewritten in "
        f"{ROOT / ADDON / 'static' / 'description'} (git status shows them)"
    )
    return 0


def cmd_bench(args):
    """Benchmarks print tables; they are not tests and not part of `test`."""
    odoo_dir, db = prepare(args.db_uri)
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
        run(
            [VENV_PY, script],
            env=dict(os.environ, **harness_env(odoo_dir, db)),
            cwd=ROOT,
        )


def cmd_stop(args):
    postgres.stop_embedded_postgres()


def main(argv=None, description=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "command", choices=("run", "test", "unit", "pictures", "bench", "stop")
    )
    parser.add_argument(
        "names", nargs="*", help="bench: which benchmarks (default all)"
    )
    parser.add_argument(
        "--db-uri",
        default=os.environ.get("COOP_DB_URI"),
        help="postgresql://user:password@host:port of an existing server",
    )
    args = parser.parse_args(argv)
    commands = {
        "run": cmd_run,
        "test": cmd_test,
        "unit": cmd_unit,
        "pictures": cmd_pictures,
        "bench": cmd_bench,
        "stop": cmd_stop,
    }
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return commands[args.command](args) or 0
    except DevError as exc:
        print(f"\nERROR: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 130
