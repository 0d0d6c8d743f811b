"""The addon installs, upgrades, uninstalls and reinstalls cleanly."""

import re

from harness import ADDON

# Lines Odoo logs when something is wrong with a module's data or code.
PROBLEM = re.compile(r" (ERROR|CRITICAL) | WARNING .*coop_developer_settings")


def assert_clean(returncode, log, what):
    problems = [line for line in log.splitlines() if PROBLEM.search(line)]
    assert returncode == 0, f"{what} failed:\n{log[-4000:]}"
    assert not problems, f"{what} logged problems:\n" + "\n".join(problems)


def module_state(odoo_cli):
    out = odoo_cli.shell(
        f"print('STATE=' + env['ir.module.module']"
        f".search([('name', '=', '{ADDON}')]).state)"
    )
    return re.search(r"STATE=(\w+)", out).group(1)


def test_install_upgrade_uninstall_reinstall(odoo_cli):
    assert_clean(
        *odoo_cli.run("-i", ADDON, "--stop-after-init", "--without-demo=all"),
        "install in an empty database",
    )
    assert module_state(odoo_cli) == "installed"

    assert_clean(*odoo_cli.run("-u", ADDON, "--stop-after-init"), "upgrade")
    assert module_state(odoo_cli) == "installed"

    out = odoo_cli.shell(
        f"env['ir.module.module'].search([('name', '=', '{ADDON}')])"
        ".button_immediate_uninstall()\n"
        "env.invalidate_all()\n"
        f"print('LEFT=%d' % env['ir.model.data'].search_count("
        f"[('module', '=', '{ADDON}')]))\n"
        "print('GROUPS=%d' % env['res.groups'].search_count("
        "[('name', '=', 'Developer settings access')]))\n"
    )
    assert "LEFT=0" in out, f"records of {ADDON} left after uninstall:\n{out}"
    assert "GROUPS=0" in out, out
    assert module_state(odoo_cli) == "uninstalled"

    assert_clean(
        *odoo_cli.run("-i", ADDON, "--stop-after-init"), "reinstall after uninstall"
    )
    assert module_state(odoo_cli) == "installed"
