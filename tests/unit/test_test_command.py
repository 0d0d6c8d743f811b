"""`make test` starts the Odoo tests, its longest suite, as soon as their
own template database is there, and builds the missing templates side by
side."""

import sys
import threading

from harness import ROOT

sys.path.insert(0, str(ROOT / "tools"))

from coopdev import commands  # noqa: E402


def fake_suites(monkeypatch, calls):
    """cmd_test with suites and templates that say when they are called."""
    odoo_tests_started = threading.Event()

    def suite(name):
        def run(*args):
            calls.append(name)
            if name == "run_odoo_tests":
                odoo_tests_started.set()
            return 1, 0

        return run

    def pytest_templates(odoo_dir, db):
        # The Odoo tests need no more than their own template: they start
        # before the others are built.
        calls.append(("Odoo tests started", odoo_tests_started.wait(timeout=10)))
        calls.append("ensure_test_templates")

    monkeypatch.setattr(commands, "prepare_test", lambda args: ("odoo", {}))
    monkeypatch.setattr(
        commands, "ensure_template", lambda odoo, db: calls.append("ensure_template")
    )
    monkeypatch.setattr(commands, "ensure_test_templates", pytest_templates)
    monkeypatch.setattr(commands, "step", lambda text: None)
    monkeypatch.setattr(commands, "info", lambda text: None)
    for name in (
        "run_unit_tests",
        "run_precommit",
        "run_odoo_tests",
        "run_integration_tests",
    ):
        monkeypatch.setattr(commands, name, suite(name))


def test_the_odoo_tests_start_once_their_template_is_built(monkeypatch):
    calls = []
    fake_suites(monkeypatch, calls)
    assert commands.cmd_test(None) == 0
    assert ("Odoo tests started", True) in calls
    assert calls.index("ensure_template") < calls.index("run_odoo_tests")
    assert calls.index("ensure_test_templates") < calls.index("run_integration_tests")


def test_the_missing_templates_are_built_side_by_side(monkeypatch):
    # Each build waits for all the others to have started: one after the
    # other, the first would wait in vain.
    all_started = threading.Barrier(len(commands.TEST_TEMPLATES), timeout=10)
    built = []

    def build(odoo_dir, db, **options):
        all_started.wait()
        built.append(options)

    monkeypatch.setattr(commands, "ensure_template", build)
    commands.ensure_test_templates("odoo", {})
    assert sorted(map(repr, built)) == sorted(map(repr, commands.TEST_TEMPLATES))
