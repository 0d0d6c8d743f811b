"""The addon upgrades from its previous release with its data, and
uninstalls and reinstalls cleanly."""

import ast
import io
import json
import re
import subprocess
import tarfile

from harness import ADDON, ROOT, template

# Lines Odoo logs when something is wrong with a module's data or code.
PROBLEM = re.compile(r" (ERROR|CRITICAL) | WARNING .*coop_developer_settings")
MANIFEST = f"{ADDON}/__manifest__.py"

# Run by the previous release: webhook deliveries of every kind it had, as
# its users' databases hold them.
PREVIOUS_DATA = """
import json
admin = env.ref('base.user_admin')
types = {t.code: t for t in env['coop.webhook.event.type'].search([])}
Endpoint = env['coop.webhook.endpoint']
opened = Endpoint.create([
    {'user_id': admin.id, 'event_type_id': types['sale_cycle.opened'].id,
     'url': 'https://hooks.example.org/opened-%d' % i} for i in range(2)])
Endpoint.create({'user_id': admin.id, 'event_type_id': types['sale_cycle.closed'].id,
                 'url': 'https://hooks.example.org/closed'})
cycle = env['coop.sale.cycle'].create({
    'name': 'Before the upgrade', 'date_open': '2026-01-05 08:00:00',
    'date_close': '2026-01-09 08:00:00'})
cycle.action_open()
cycle.action_close()
opened[0].action_send_test_event()
rows = env['coop.webhook.delivery'].search_read([], ['event_id', 'body', 'state'])
print('DELIVERIES=' + json.dumps(rows))
"""

CURRENT_DATA = """
import json
rows = env['coop.webhook.delivery'].search_read(
    [], ['webhook_id', 'body', 'state', 'event_id', 'endpoint_id'])
for row in rows:
    row['event_id'] = row['event_id'][0]
    row['endpoint_id'] = row['endpoint_id'][0]
events = env['coop.webhook.event'].search_read(
    [], ['res_model', 'res_id', 'endpoint_id'])
print('DELIVERIES=' + json.dumps(rows))
print('EVENTS=' + json.dumps(events))
print('STATE=' + env['ir.module.module'].search([('name', '=', 'ADDON')]).state)
""".replace("ADDON", ADDON)


def assert_clean(returncode, log, what):
    problems = [line for line in log.splitlines() if PROBLEM.search(line)]
    assert returncode == 0, f"{what} failed:\n{log[-4000:]}"
    assert not problems, f"{what} logged problems:\n" + "\n".join(problems)


def printed(out, name):
    return json.loads(re.search(rf"^{name}=(.*)$", out, re.MULTILINE).group(1))


def git(*args):
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, check=True
    ).stdout


def manifest_version(commit=None):
    """The manifest's version in the working tree, or at a commit."""
    if commit:
        text = git("show", f"{commit}:{MANIFEST}").decode()
    else:
        text = (ROOT / MANIFEST).read_text()
    return ast.literal_eval(text)["version"]


def previous_release(into):
    """Extract the addon as released before the current manifest version
    (the parent of the commit that set it) into a folder of its own.

    Along the first parents only: a branch merged in that still had the
    previous version (a feature branch, or main merged into one) is not
    the release the branch's version replaced."""
    current = manifest_version()
    bump = None
    for commit in (
        git("log", "--first-parent", "--format=%H", "--", MANIFEST).decode().split()
    ):
        if manifest_version(commit) != current:
            break
        bump = commit
    assert bump, f"version {current} is not committed: commit it first"
    archive = git("archive", "--format=tar", f"{bump}^", ADDON)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return manifest_version(f"{bump}^")


def module_state(out):
    return re.search(r"STATE=(\w+)", out).group(1)


def test_upgrade_from_the_previous_release_uninstall_reinstall(
    odoo_cli, odoo_env, tmp_path
):
    previous = previous_release(tmp_path)
    depends = ast.literal_eval((tmp_path / MANIFEST).read_text())["depends"]
    odoo_cli.copy(template(odoo_env, demo=False, depends=depends))
    odoo_addons = odoo_env["source"] / "odoo" / "addons"
    current_config = odoo_cli.config.read_text()
    # The previous release alone on the addons path.
    odoo_cli.config.write_text(
        re.sub(
            r"^addons_path = .*$",
            f"addons_path = {odoo_addons},{tmp_path}",
            current_config,
            flags=re.MULTILINE,
        )
    )
    assert_clean(
        *odoo_cli.run("-i", ADDON, "--stop-after-init", "--without-demo=all"),
        f"install of {previous} in a copy of its dependencies' template",
    )
    before = {
        row["id"]: row for row in printed(odoo_cli.shell(PREVIOUS_DATA), "DELIVERIES")
    }
    assert len(before) == 4, before  # opened twice, closed, test

    odoo_cli.config.write_text(current_config)
    assert_clean(
        *odoo_cli.run("-u", ADDON, "--stop-after-init"), f"upgrade from {previous}"
    )
    out = odoo_cli.shell(CURRENT_DATA)
    assert module_state(out) == "installed"
    after = {row["id"]: row for row in printed(out, "DELIVERIES")}
    assert sorted(after) == sorted(before)
    for delivery_id, old in before.items():
        new = after[delivery_id]
        old_body, new_body = json.loads(old["body"]), json.loads(new["body"])
        # Receivers deduplicate on the id: the same, with the same content.
        assert new["webhook_id"] == old["event_id"] == new_body["id"]
        assert new_body == old_body, "the same event, the same content"
        assert new["state"] == old["state"]
    events = {event["id"]: event for event in printed(out, "EVENTS")}
    assert len(events) == 3, "the two deliveries of 'opened' share their event"
    for row in after.values():
        event = events[row["event_id"]]
        if json.loads(row["body"])["type"] == "webhook.test":
            assert event["endpoint_id"][0] == row["endpoint_id"]
        else:
            assert (event["res_model"], event["res_id"]) == (
                "coop.sale.cycle",
                json.loads(row["body"])["data"]["id"],
            )

    out = odoo_cli.shell(
        f"env['ir.module.module'].search([('name', '=', '{ADDON}')])"
        ".button_immediate_uninstall()\n"
        "env.invalidate_all()\n"
        f"print('LEFT=%d' % env['ir.model.data'].search_count("
        f"[('module', '=', '{ADDON}')]))\n"
        "print('GROUPS=%d' % env['res.groups'].search_count("
        "[('name', '=', 'Developer settings access')]))\n"
        f"print('STATE=' + env['ir.module.module'].search([('name', '=', '{ADDON}')])"
        ".state)\n"
    )
    assert "LEFT=0" in out, f"records of {ADDON} left after uninstall:\n{out}"
    assert "GROUPS=0" in out, out
    assert module_state(out) == "uninstalled"

    assert_clean(
        *odoo_cli.run("-i", ADDON, "--stop-after-init"), "reinstall after uninstall"
    )
    out = odoo_cli.shell(
        f"print('STATE=' + env['ir.module.module'].search([('name', '=', '{ADDON}')])"
        ".state)"
    )
    assert module_state(out) == "installed"
