"""PostgreSQL: an existing server (``--db-uri``, or ``PGHOST``/``PGPORT``/
``PGUSER``/``PGPASSWORD``), else a private cluster of the system's server
binaries in ``.dev/pgdata``, run as an unprivileged user."""

import json
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path

from .console import DevError, run, step
from .project import DEV, VENV_PY

# The embedded cluster's defaults; the port is unusual so that it never
# collides with a PostgreSQL already listening on 5432.
EMBEDDED_PORT = int(os.environ.get("COOP_PG_PORT", "54329"))
DB_ROLE = "odoo"
DB_PASSWORD = "odoo"
PGDATA = DEV / "pgdata"


def external_db(db_uri):
    """Odoo's connection settings of an existing PostgreSQL, or None."""
    if db_uri:
        uri = urllib.parse.urlparse(db_uri)
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


def settings_uri(settings):
    """The ``--db-uri`` of Odoo's connection settings (the reverse of the above)."""
    user = urllib.parse.quote(settings["db_user"], safe="")
    password = urllib.parse.quote(settings["db_password"], safe="")
    return f"postgresql://{user}:{password}@{settings['db_host']}:{settings['db_port']}"


# Run by .venv's python, which has psycopg2 (this tool runs on any python3):
# statements in autocommit (CREATE DATABASE...), the rows of the last one.
SQL_SCRIPT = """
import json, sys
import psycopg2
settings, dbname, statements = json.loads(sys.argv[1]), *sys.argv[2:]
statements = json.loads(statements)
params = {
    key: settings["db_" + key]
    for key in ("host", "port", "user", "password")
    if settings.get("db_" + key)
}
connection = psycopg2.connect(dbname=dbname, **params)
connection.autocommit = True
rows = []
with connection.cursor() as cr:
    for statement, args in statements:
        cr.execute(statement, args)
        rows = cr.fetchall() if cr.description else []
connection.close()
print(json.dumps(rows))
"""


def sql(db_settings, statements, dbname="postgres"):
    """Run (statement, arguments) pairs on a database of the server; returns
    the rows of the last statement."""
    result = subprocess.run(
        [
            VENV_PY,
            "-c",
            SQL_SCRIPT,
            json.dumps(db_settings),
            dbname,
            json.dumps(statements),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        error = (result.stderr.strip().splitlines() or ["no output"])[-1]
        done = "; ".join(statement for statement, _ in statements)
        raise DevError(f"PostgreSQL refused `{done}` (database {dbname}): {error}")
    return json.loads(result.stdout)


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
    bindir = pg_bindir()
    if not (PGDATA / "PG_VERSION").exists():
        step(f"Creating the embedded PostgreSQL cluster in {PGDATA}")
        PGDATA.mkdir(parents=True, exist_ok=True)
        pwfile = DEV / "pgpass.tmp"
        pwfile.write_text(DB_PASSWORD + "\n")
        if os.geteuid() == 0:
            # 'nobody' must reach the folder and own the cluster.
            for path in (DEV, PGDATA, pwfile):
                shutil.chown(path, "nobody")
        try:
            run(
                as_pg_user(
                    [
                        bindir / "initdb",
                        "-D",
                        PGDATA,
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
        as_pg_user([str(bindir / "pg_ctl"), "-D", str(PGDATA), "status"]),
        capture_output=True,
        check=False,
    )
    if status.returncode != 0:
        step(f"Starting the embedded PostgreSQL on 127.0.0.1:{EMBEDDED_PORT}")
        options = f"-p {EMBEDDED_PORT} -h 127.0.0.1 -k {PGDATA}"
        result = run(
            as_pg_user(
                [
                    bindir / "pg_ctl",
                    "-D",
                    PGDATA,
                    "-l",
                    PGDATA / "server.log",
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
            log = (PGDATA / "server.log").read_text(errors="replace")[-2000:]
            raise DevError(
                f"PostgreSQL did not start. End of {PGDATA / 'server.log'}:\n{log}\n"
                f"If port {EMBEDDED_PORT} is taken, set COOP_PG_PORT to a free port."
            )
    return {
        "db_host": "127.0.0.1",
        "db_port": str(EMBEDDED_PORT),
        "db_user": DB_ROLE,
        "db_password": DB_PASSWORD,
    }


def stop_embedded_postgres():
    if (PGDATA / "PG_VERSION").exists():
        run(
            as_pg_user([pg_bindir() / "pg_ctl", "-D", PGDATA, "-m", "fast", "stop"]),
            check=False,
        )
