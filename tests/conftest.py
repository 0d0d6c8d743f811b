"""Fixtures for the out-of-process tests: a real Odoo, driven from outside.

``make test`` builds the environment and tells them where Odoo and
PostgreSQL are; ``.venv/bin/pytest tests`` run alone prepares PostgreSQL
itself, or stops at once with one line that says what to run instead.
"""

import secrets
import sys
from pathlib import Path

import pytest

VENV = Path(__file__).resolve().parent.parent / ".venv"
IN_PROJECT_ENV = Path(sys.prefix).resolve() == VENV.resolve()
if IN_PROJECT_ENV:  # elsewhere its imports may be missing: see pytest_configure
    from harness import (
        ADDON,
        ADMIN,
        DEV_LOGS,
        OdooCli,
        OdooServer,
        Rpc,
        locate_odoo_env,
    )


def pytest_configure(config):
    if not IN_PROJECT_ENV:
        pytest.exit(
            "these tests run in the project's environment: `make test`, or "
            "`.venv/bin/pytest tests` once `make test` has built .venv",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


@pytest.fixture(scope="session")
def odoo_env():
    try:
        return locate_odoo_env()
    except RuntimeError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture
def odoo_cli(odoo_env):
    """A fresh, empty database name and the odoo-bin to use on it."""
    cli = OdooCli(odoo_env, f"coop_pytest_{secrets.token_hex(4)}")
    yield cli
    cli.drop()


@pytest.fixture(scope="session")
def odoo_server(odoo_env):
    """One database with the addon and its demo data, served for the session."""
    cli = OdooCli(
        odoo_env,
        f"coop_e2e_{secrets.token_hex(4)}",
        workers="2",
        max_cron_threads="1",
    )
    returncode, log = cli.run("-i", ADDON, "--stop-after-init")
    if returncode:
        cli.drop()
        pytest.fail(f"installing {ADDON} failed:\n{log[-3000:]}")
    server = OdooServer(cli, DEV_LOGS / f"{cli.db_name}-server.log").start()
    yield server
    server.stop()
    cli.drop()
    # Whatever the tests did, no signing secret reached the server's log.
    assert "whsec_" not in server.log_path.read_text(errors="replace"), (
        f"a webhook signing secret is in {server.log_path}"
    )


@pytest.fixture(scope="session")
def admin(odoo_server):
    rpc = Rpc(odoo_server, *ADMIN)
    # The tests' receivers listen on loopback over plain http.
    rpc.set_params(allowed_private_networks="127.0.0.0/8", webhook_allow_http="1")
    return rpc
