"""Odoo: its configuration files, its databases, its logs, its ports."""

import configparser
import json
import os
import re
import shutil
import socket
import subprocess
import uuid

from .console import DevError, info, run_logged, step
from .postgres import sql
from .project import ADDON, DEV, HTTP_PORT, ROOT, VENV_PY, files_digest
from .pyenv import venv_bin

# The cooperatives' language: installed in `make run`'s database.
LANGUAGE = "fr_FR"
DEMO_FAILED = "demo data failed to install"


def job_channels(workers):
    """queue_job's channels for a server with this many HTTP workers.

    Jobs are HTTP requests to the workers: their capacity leaves one worker
    to the users, so that a burst of deliveries never makes the shop wait.
    Webhook deliveries have their own channel, which queue_job's runner reads;
    what is sent again by hand has one under it, kept below it when there
    are two slots or more: live deliveries always have one.
    """
    capacity = max(int(workers) - 1, 1)
    replay = max(capacity - 1, 1)
    return f"root:{capacity},root.webhook:{capacity},root.webhook.replay:{replay}"


def write_config(odoo_dir, db, name, channels=None, **options):
    """An Odoo configuration file in .dev/ (never in the repository).

    ``channels`` defaults to :func:`job_channels` of the ``workers`` option.
    """
    values = {
        "addons_path": f"{odoo_dir / 'odoo' / 'addons'},{ROOT}",
        "data_dir": str(DEV / "data"),
        "http_interface": "127.0.0.1",
        "http_port": str(HTTP_PORT),
        "gevent_port": str(HTTP_PORT + 3),
        "server_wide_modules": "base,web,queue_job",
        "workers": "3",
        "max_cron_threads": "1",
        "limit_time_real": "600",
        "limit_time_cpu": "300",
        "proxy_mode": "False",
        "list_db": "True",
        **db,
        **options,
    }
    lines = ["[options]"] + [f"{key} = {value}" for key, value in values.items()]
    lines += [
        "",
        "[queue_job]",
        f"channels = {channels or job_channels(values['workers'])}",
    ]
    path = DEV / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def odoo_cmd(config, *args):
    return [venv_bin("odoo"), "-c", config, *args]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class OdooLog:
    """Streams an Odoo run: full log to a file, progress lines to the screen."""

    PROGRESS = re.compile(
        r" (WARNING|ERROR|CRITICAL) "
        r"|odoo\.modules\.loading: (loading|\d+ modules)"
        r"|odoo\.tests\.(result|stats)"
        r"|odoo\.service\.server: (Initiating|Stopping|HTTP)"
        r"|: (FAIL|ERROR):|Starting .*Test|odoo\.modules\.registry: Registry loaded"
        r"|odoo\.tools\.translate: loading "
    )

    def __init__(self, path, verbose=False, prefix="    "):
        self.path = path
        self.verbose = verbose
        self.prefix = prefix

    def run(self, cmd, env=None):
        return run_logged(cmd, self.path, self.shows, env=env, prefix=self.prefix)

    def shows(self, line):
        # A multi-line entry (traceback) follows its first line.
        if not re.match(r"\d{4}-\d\d-\d\d ", line):
            return None
        return self.verbose or bool(self.PROGRESS.search(line))


# Run by .venv's python, which has psycopg2: is the database there, is the
# addon installed, is the language active?
DATABASE_STATE = """
import json, sys
import psycopg2
settings, db_name, addon, lang = json.loads(sys.argv[1]), *sys.argv[2:]
params = {
    key: settings["db_" + key]
    for key in ("host", "port", "user", "password")
    if settings.get("db_" + key)
}
try:
    with psycopg2.connect(dbname="postgres", **params) as conn, conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name])
        exists = bool(cr.fetchone())
except psycopg2.OperationalError as exc:
    sys.exit(str(exc).strip())
state = {"exists": exists, "installed": False, "language": False}
if exists:
    with psycopg2.connect(dbname=db_name, **params) as conn, conn.cursor() as cr:
        cr.execute("SELECT to_regclass('ir_module_module') IS NOT NULL")
        if cr.fetchone()[0]:
            cr.execute(
                "SELECT 1 FROM ir_module_module"
                " WHERE name = %s AND state = 'installed'",
                [addon],
            )
            state["installed"] = bool(cr.fetchone())
            cr.execute("SELECT 1 FROM res_lang WHERE code = %s AND active", [lang])
            state["language"] = bool(cr.fetchone())
print(json.dumps(state))
"""


def database_state(db_settings, db_name):
    result = subprocess.run(
        [
            VENV_PY,
            "-c",
            DATABASE_STATE,
            json.dumps(db_settings),
            db_name,
            ADDON,
            LANGUAGE,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise DevError(
            f"cannot reach PostgreSQL at {db_settings['db_host']}:"
            f"{db_settings['db_port']} as {db_settings['db_user']}: "
            f"{result.stderr.strip()}\nStart it, or fix PGHOST/PGPORT/PGUSER/"
            "PGPASSWORD (or --db-uri), then run the command again."
        )
    return json.loads(result.stdout)


def database_stamp(db_name):
    return DEV / f"db-{db_name}.stamp"


def ensure_database(odoo_dir, config, db_settings, db_name, template=None):
    """The database with the addon, its demo data and French: created (a
    copy of the database ``template()`` names, if given), or updated when the
    addon changed or French is missing; else left as is."""
    stamp = database_stamp(db_name)
    wanted = files_digest(ROOT / ADDON) + str(odoo_dir)
    state = database_state(db_settings, db_name)
    current = stamp.is_file() and stamp.read_text() == wanted
    if state["installed"] and state["language"] and current:
        info(f"database '{db_name}' is up to date")
        return
    if state["installed"]:
        action = "-u"
        step(
            f"Updating database '{db_name}': {ADDON}"
            + ("" if state["language"] else ", and French (about a minute)")
        )
    else:
        action = "-i"
        if not state["exists"] and template:
            copy_database(db_settings, template(), db_name)
            state = database_state(db_settings, db_name)
        step(
            f"Creating database '{db_name}' with {ADDON}, its demo data and French "
            f"({'a minute' if state['exists'] else 'about two minutes'})"
        )
    # French is loaded before the addon's data, whose demo user speaks it.
    language = [] if state["language"] else [f"--load-language={LANGUAGE}"]
    log = OdooLog(DEV / "logs" / f"{db_name}-install.log")
    rc = log.run(
        odoo_cmd(
            config,
            "-d",
            db_name,
            action,
            ADDON,
            *language,
            "--stop-after-init",
            "--workers=0",
        )
    )
    # Odoo only warns when demo data fails, and turns the addon's demo off.
    demo_failed = DEMO_FAILED in log.path.read_text(errors="replace")
    if rc or demo_failed:
        if action == "-i":
            drop_db(config, db_name)  # nothing half-made is left
        elif demo_failed:
            raise DevError(
                f"the demo data of {ADDON} failed to load in '{db_name}' (full log: "
                f"{log.path}); Odoo will not load it there again. Fix the error "
                f"shown above, drop the database (dropdb {db_name}), then run the "
                "command again."
            )
        raise DevError(
            f"installing {ADDON} in '{db_name}' failed; full log: {log.path}. "
            "Fix the error shown above, then run the command again."
        )
    stamp.write_text(wanted)


def filestore(db_name):
    """Where Odoo keeps the files of a database (the data_dir of write_config)."""
    return DEV / "data" / "filestore" / db_name


def copy_database(db_settings, template, db_name):
    """A new database db_name, a copy of template and of its files, with an
    identity of its own (as Odoo's own duplication gives it)."""
    sql(db_settings, [(f'CREATE DATABASE "{db_name}" TEMPLATE "{template}"', [])])
    sql(
        db_settings,
        [
            (
                "UPDATE ir_config_parameter SET value = %s WHERE key = %s",
                [str(uuid.uuid4()), key],
            )
            for key in ("database.uuid", "database.secret")
        ],
        dbname=db_name,
    )
    if filestore(template).exists():
        # Odoo never rewrites a stored file (a change is a new file): the
        # copy can share them.
        shutil.copytree(filestore(template), filestore(db_name), copy_function=os.link)


def drop_database(db_settings, db_name):
    """Drop a database, its files, and forget that `make run` set it up."""
    sql(
        db_settings,
        [
            (
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid != pg_backend_pid()",
                [db_name],
            ),
            (f'DROP DATABASE IF EXISTS "{db_name}"', []),
        ],
    )
    shutil.rmtree(filestore(db_name), ignore_errors=True)
    database_stamp(db_name).unlink(missing_ok=True)


def config_db_settings(config):
    """The connection settings (db_host...) an Odoo configuration file holds."""
    parser = configparser.ConfigParser()
    parser.read(config)
    return {
        key: value for key, value in parser["options"].items() if key.startswith("db_")
    }


def drop_db(config, db_name):
    """drop_database, for those who hold an Odoo configuration file."""
    drop_database(config_db_settings(config), db_name)
