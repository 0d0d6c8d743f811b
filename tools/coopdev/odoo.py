"""Odoo: its configuration files, its databases, its logs, its ports."""

import re
import socket
import subprocess
import sys

from .console import DevError, info, run, step
from .project import ADDON, DEV, HTTP_PORT, ROOT, VENV_PY, files_digest
from .pyenv import venv_bin


def job_channels(workers):
    """queue_job's channels for a server with this many HTTP workers.

    Jobs are HTTP requests to the workers: their capacity leaves one worker
    to the users, so that a burst of deliveries never makes the shop wait.
    Webhook deliveries have their own channel, which queue_job's runner reads.
    """
    capacity = max(int(workers) - 1, 1)
    return f"root:{capacity},root.webhook:{capacity}"


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


def drop_db(config, db_name):
    code = (
        "import sys, odoo; from odoo.tools import config;"
        "config.parse_config(['-c', sys.argv[1]]);"
        "import odoo.service.db as d; d.exp_drop(sys.argv[2])"
    )
    run([VENV_PY, "-c", code, config, db_name], check=False, stdout=subprocess.DEVNULL)
