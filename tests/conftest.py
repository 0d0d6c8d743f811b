"""Fixtures for the out-of-process tests: a real Odoo, driven from outside.

``make test`` builds the environment and tells them where Odoo and
PostgreSQL are; ``.venv/bin/pytest tests`` run alone prepares PostgreSQL
itself, or stops at once with one line that says what to run instead.
"""

import secrets
import sys
from contextlib import contextmanager
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
        template,
    )


def pytest_configure(config):
    if not IN_PROJECT_ENV:
        pytest.exit(
            "these tests run in the project's environment: `make test`, or "
            "`.venv/bin/pytest tests` once `make test` has built .venv",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


# Modules that take minutes each (see `pytest --durations=0`): scheduled first
# when the tests run in several processes, so that none is left to the end.
LONGEST_FIRST = (
    "test_webhook_faults",
    "test_database_restart",
    "test_secret_key_rotation",
    "test_run_command",
    "test_lifecycle",
)


@pytest.hookimpl(tryfirst=True)  # before xdist's, which reads the groups
def pytest_collection_modifyitems(config, items):
    """For pytest-xdist's ``--dist loadgroup`` (`make test` runs these tests
    in several processes): the tests of a module run in one process, which
    sets its fixtures up once, and the tests on the session's server share
    one process, so one server; a module may name its own group (its own
    process and server). The longest first."""
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            uses_server = "odoo_server" in item.fixturenames
            group = "odoo_server" if uses_server else item.module.__name__
            item.add_marker(pytest.mark.xdist_group(group))
    if config.getoption("dist", "no") != "no":
        rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(item.module.__name__, len(rank)))


@pytest.fixture(scope="session")
def odoo_env():
    try:
        return locate_odoo_env()
    except RuntimeError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture
def odoo_cli(odoo_env):
    """A database name, free, and the odoo-bin to use on it (OdooCli.copy
    makes it a copy of a template)."""
    cli = OdooCli(odoo_env, f"coop_pytest_{secrets.token_hex(4)}")
    yield cli
    cli.drop()


@pytest.fixture(scope="session")
def odoo_server(odoo_env):
    """One database with the addon and its demo data, served for the session:
    a copy of the template (demo data) where the addon is installed."""
    with served(odoo_env, "coop_e2e") as server:
        yield server


@contextmanager
def served(odoo_env, prefix, **options):
    """A copy of the template (demo data) where the addon is installed,
    served with these server configuration options; dropped afterwards."""
    cli = OdooCli(
        odoo_env,
        f"{prefix}_{secrets.token_hex(4)}",
        workers="2",
        max_cron_threads="1",
        **options,
    ).copy(template(odoo_env))
    returncode, log = cli.run("-i", ADDON, "--stop-after-init")
    if returncode:
        cli.drop()
        pytest.fail(f"installing {ADDON} failed:\n{log[-3000:]}")
    server = OdooServer(cli, DEV_LOGS / f"{cli.db_name}-server.log").start()
    try:
        yield server
    finally:
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


@pytest.fixture(scope="session")
def every_kind_of_buyer(admin):
    """Buyers of every kind the API answers with, in the main shop: current
    (a name and capitals in the address, several addresses), opted out,
    without email, a contact without a name, removed with its customer, and
    removed whose customer was deleted. Returns {kind: partner id}."""
    tag = secrets.token_hex(3)
    values = {
        "current": {"name": f"Zoë {tag}", "email": f"Zoë <Zoe-{tag}@Example.org>"},
        "several": {"name": f"Pair {tag}", "email": f"a-{tag}@x.org, b-{tag}@x.org"},
        "opted_out": {"name": f"Out {tag}", "email": f"out-{tag}@example.org"},
        "no_email": {"name": f"Nomail {tag}", "email": False},
        "removed": {"name": f"Gone {tag}", "email": f"gone-{tag}@example.org"},
        "deleted": {"name": f"Deleted {tag}", "email": f"del-{tag}@example.org"},
    }
    partners = {
        kind: admin("res.partner", "create", vals) for kind, vals in values.items()
    }
    partners["nameless"] = admin(
        "res.partner",
        "create",
        {"type": "delivery", "parent_id": partners["current"], "email": False},
    )
    orders = {
        kind: admin("sale.order", "create", {"partner_id": partner})
        for kind, partner in partners.items()
    }
    admin("sale.order", "action_confirm", list(orders.values()))
    admin("mail.blacklist", "create", {"email": f"out-{tag}@example.org"})
    gone = [orders["removed"], orders["deleted"]]
    admin("sale.order", "action_cancel", gone, context={"disable_cancel_warning": True})
    admin("sale.order", "unlink", [orders["deleted"]])
    admin("res.partner", "unlink", [partners["deleted"]])
    return partners
