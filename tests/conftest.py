"""Fixtures for the out-of-process tests: a real Odoo, driven from outside.

These tests run through the README's test command (``make test``), which
builds the environment and tells them where Odoo and PostgreSQL are.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import devtool  # noqa: E402  (the dev tool owns the Odoo configuration)

ADDON = "coop_developer_settings"


@pytest.fixture(scope="session")
def odoo_env():
    """Where Odoo and PostgreSQL are, as prepared by ``make test``."""
    missing = [
        name
        for name in ("COOP_ODOO_SOURCE", "COOP_ODOO_BIN", "COOP_DB_SETTINGS")
        if not os.environ.get(name)
    ]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: run these tests with `make test`, "
            "which prepares Odoo and PostgreSQL for them."
        )
    return {
        "source": Path(os.environ["COOP_ODOO_SOURCE"]),
        "bin": os.environ["COOP_ODOO_BIN"],
        "db": json.loads(os.environ["COOP_DB_SETTINGS"]),
    }


class OdooCli:
    """Runs odoo-bin against one throwaway database."""

    def __init__(self, odoo_env, db_name):
        self.bin = odoo_env["bin"]
        self.db_name = db_name
        self.config = devtool.write_config(
            odoo_env["source"],
            odoo_env["db"],
            f"odoo-{db_name}.conf",
            http_port=str(devtool.free_port()),
            gevent_port=str(devtool.free_port()),
            workers="0",
            max_cron_threads="0",
        )

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
        devtool.drop_db(self.config, self.db_name)
        Path(self.config).unlink(missing_ok=True)


@pytest.fixture
def odoo_cli(odoo_env):
    """A fresh, empty database name and the odoo-bin to use on it."""
    cli = OdooCli(odoo_env, f"coop_pytest_{secrets.token_hex(4)}")
    yield cli
    cli.drop()
