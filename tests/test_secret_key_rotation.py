"""`odoo coop-rotate-key`: the secrets at rest encrypted again under a new
key, batch by batch; killed midway, it resumes; the secrets do not change."""

import configparser
import json
import re
import secrets
import signal
import subprocess

import psycopg2
from harness import ADDON, OdooCli, template, wait_for

# 8 endpoints of each of the 4 subscribable events (at most 10 each), a few
# rotated (their previous secret is sealed too), committed.
MAKE_ENDPOINTS = """
import json
admin = env.ref('base.user_admin')
Endpoint = env['coop.webhook.endpoint']
for event_type in env['coop.webhook.event.type'].search([('subscribable', '=', True)]):
    Endpoint.create([
        {'user_id': admin.id, 'event_type_id': event_type.id,
         'url': 'https://hooks.example.org/%s/%d' % (event_type.code, i)}
        for i in range(8)])
Endpoint.search([], limit=5, order='id')._rotate_secret()
env.cr.commit()
env.invalidate_all()  # what follows reads what was stored
"""
# Prints every signing secret.
SIGNING_SECRETS = """
import json
print('SECRETS=' + json.dumps({e.id: e._signing_secrets()
    for e in env['coop.webhook.endpoint'].search([])}))
"""
BATCH = 10


def printed(out, name):
    return json.loads(re.search(rf"^{name}=(.*)$", out, re.MULTILINE).group(1))


class Keys:
    """The database's sealed values and the keyring file, seen from outside."""

    def __init__(self, cli, data_dir):
        options = configparser.ConfigParser()
        options.read(cli.config)
        self.options = options["options"]
        self.db = cli.db_name
        self.file = data_dir / ADDON / "secret.keys"

    def connect(self):
        return psycopg2.connect(
            dbname=self.db,
            host=self.options["db_host"],
            port=self.options["db_port"],
            user=self.options["db_user"],
            password=self.options["db_password"],
        )

    def key_ids(self):
        return [line.split(":")[0] for line in self.file.read_text().split()]

    def sealed_under(self):
        """{key id: count} of the sealed values of every row."""
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT split_part(s, ':', 2), COUNT(*) FROM coop_webhook_endpoint, "
                "LATERAL (VALUES (secret_sealed), (previous_secret_sealed)) v(s) "
                "WHERE s IS NOT NULL GROUP BY 1"
            )
            result = dict(cursor.fetchall())
        connection.close()
        return result


def rotate_command(cli, *args):
    addons = configparser.ConfigParser()
    addons.read(cli.config)
    return [
        cli.bin,
        f"--addons-path={addons['options']['addons_path']}",
        "coop-rotate-key",
        "-c",
        str(cli.config),
        "-d",
        cli.db_name,
        "--batch-size",
        str(BATCH),
        *args,
    ]


def test_rotation_killed_midway_resumes_and_keeps_every_secret(odoo_env, tmp_path):
    data_dir = tmp_path / "data"
    cli = OdooCli(odoo_env, f"coop_pytest_{secrets.token_hex(4)}", data_dir=data_dir)
    try:
        cli.copy(template(odoo_env, demo=False))
        returncode, log = cli.run(
            "-i", ADDON, "--stop-after-init", "--without-demo=all"
        )
        assert returncode == 0, log[-3000:]
        before = printed(cli.shell(MAKE_ENDPOINTS + SIGNING_SECRETS), "SECRETS")
        keys = Keys(cli, data_dir)
        [old_id] = keys.key_ids()
        assert keys.sealed_under() == {old_id: 32 + 5}
        assert oct(keys.file.stat().st_mode & 0o777) == "0o600"

        # Rows after the first two batches are locked: the command commits
        # two batches, then waits on the third; it is killed there.
        locker = keys.connect()
        with locker.cursor() as cursor:
            # (FOR UPDATE with OFFSET would lock the skipped rows too.)
            cursor.execute(
                "SELECT id FROM coop_webhook_endpoint WHERE id IN ("
                "  SELECT id FROM coop_webhook_endpoint ORDER BY id OFFSET %s"
                ") FOR UPDATE",
                [2 * BATCH],
            )
        command = subprocess.Popen(
            rotate_command(cli, "--new-key"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(
                lambda: len(keys.key_ids()) == 2
                and keys.sealed_under().get(keys.key_ids()[0]) == 2 * BATCH,
                timeout=300,
                what="two batches encrypted again",
            )
        finally:
            command.send_signal(signal.SIGKILL)
            first_log = command.communicate(timeout=60)[0]
            locker.rollback()
            locker.close()
        assert "whsec_" not in first_log
        new_id, kept_id = keys.key_ids()
        assert kept_id == old_id, "the old key stays until every value is moved"
        assert keys.sealed_under() == {new_id: 2 * BATCH, old_id: 12 + 5}
        assert printed(cli.shell(SIGNING_SECRETS), "SECRETS") == before

        # Run again: it finishes the unfinished rotation, no third key.
        resumed = subprocess.run(
            rotate_command(cli, "--new-key"),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "finishing it, no new key" in resumed.stderr + resumed.stdout
        assert keys.key_ids() == [new_id, old_id]
        assert keys.sealed_under() == {new_id: 32 + 5}
        assert printed(cli.shell(SIGNING_SECRETS), "SECRETS") == before

        # Idempotent: once done, without --new-key, nothing to do.
        again = subprocess.run(
            rotate_command(cli),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"done: 0 secrets encrypted again under key {new_id}" in (
            again.stderr + again.stdout
        )
        for log in (resumed.stdout, resumed.stderr, again.stdout, again.stderr):
            assert "whsec_" not in log
    finally:
        cli.drop()
