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

# The webhook-signature header of one fixed message, per endpoint: what its
# receivers verify, before and after the upgrade.
SIGNATURES = """
from odoo.addons.coop_developer_settings.webhook import signing
print('SIGNATURES=' + json.dumps({
    e.id: signing.signature_header(
        e._signing_secrets(), 'msg_upgrade', 1767600000, b'{}')
    for e in env['coop.webhook.endpoint'].search([])}))
"""

# Run by the previous release: webhook deliveries of every kind it had, as
# its users' databases hold them, and endpoints' signing secrets (one just
# rotated: its previous secret still signs).
PREVIOUS_DATA = (
    """
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
opened[1]._rotate_secret()
rows = env['coop.webhook.delivery'].search_read([], ['webhook_id', 'body', 'state'])
print('DELIVERIES=' + json.dumps(rows))
print('SECRETS=' + json.dumps(Endpoint.search([]).read(['secret', 'previous_secret'])))
"""
    + SIGNATURES
)

CURRENT_DATA = (
    """
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
env.cr.execute('SELECT row_to_json(e)::text FROM coop_webhook_endpoint e')
print('ROWS=' + json.dumps([row for row, in env.cr.fetchall()]))
print('READ=' + json.dumps(env['coop.webhook.endpoint'].search([]).read(), default=str))
stranded = env.ref('ADDON.ir_cron_requeue_stranded_webhook_deliveries')
print('STRANDED=' + json.dumps([stranded.interval_number, stranded.interval_type]))
""".replace("ADDON", ADDON)
    + SIGNATURES
)


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
    # A data directory of its own: the upgrade creates the key file there.
    data_dir = tmp_path / "data"
    current_config = re.sub(
        r"^data_dir = .*$",
        f"data_dir = {data_dir}",
        odoo_cli.config.read_text(),
        flags=re.MULTILINE,
    )
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
    out = odoo_cli.shell(PREVIOUS_DATA)
    before = {row["id"]: row for row in printed(out, "DELIVERIES")}
    assert len(before) == 4, before  # opened twice, closed, test
    secrets_before = printed(out, "SECRETS")
    signatures_before = printed(out, "SIGNATURES")
    assert sorted(len(s.split()) for s in signatures_before.values()) == [1, 1, 2]

    odoo_cli.config.write_text(current_config)
    returncode, log = odoo_cli.run("-u", ADDON, "--stop-after-init")
    assert_clean(returncode, log, f"upgrade from {previous}")
    assert "whsec_" not in log
    out = odoo_cli.shell(CURRENT_DATA)
    assert module_state(out) == "installed"
    after = {row["id"]: row for row in printed(out, "DELIVERIES")}
    assert sorted(after) == sorted(before)
    for delivery_id, old in before.items():
        new = after[delivery_id]
        old_body, new_body = json.loads(old["body"]), json.loads(new["body"])
        # Receivers deduplicate on the id: the same, with the same content.
        assert new["webhook_id"] == old["webhook_id"] == new_body["id"]
        assert new_body == old_body, "the same event, the same content"
        assert new["state"] == old["state"]
    # The signing secrets are encrypted at rest, with a key file the upgrade
    # created outside the database; receivers see the same signatures.
    assert printed(out, "SIGNATURES") == signatures_before
    clear = [
        value
        for row in secrets_before
        for value in row.values()
        if isinstance(value, str)
    ]
    assert len(clear) == 4 and all(value.startswith("whsec_") for value in clear)
    seen = json.dumps([printed(out, "ROWS"), printed(out, "READ")])
    assert "whsec_" not in seen
    assert all(value not in seen for value in clear)
    key_file = data_dir / ADDON / "secret.keys"
    # The stranded-deliveries cron (noupdate) no longer waits an hour.
    assert printed(out, "STRANDED") == [2, "minutes"]
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
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
