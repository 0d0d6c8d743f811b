# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Secrets at rest: the plain crypto package (sealing, the keyring), then the
webhook secrets sealed in the database with a key held outside it, revealed
to the owner and the administrators only."""

import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest.mock import patch

from standardwebhooks.webhooks import Webhook

from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged
from odoo.tests.common import BaseCase
from odoo.tools import mute_logger

from ..crypto import keyring, sealing
from ..models.coop_secret_vault import SecretUnreadable
from .common import (
    DeliveryJobsMixin,
    KeyConfigMixin,
    WebhookCase,
    allow_local_receivers,
    new_developer,
)
from .receiver import Receiver

ADDON_PARENT = Path(__file__).resolve().parents[2]  # the directory holding the addon
PURPOSE = "coop_webhook_endpoint.secret_sealed"
SECRET = "whsec_" + "A" * 32
# In a fresh interpreter, imports the package by its name, as a plain
# package (the addon's __init__ imports Odoo only as odoo.addons.*); at the
# given moment, creates or reads the key file; prints its key and the Odoo
# modules loaded.
FIRST_USE = """
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[1])
from coop_developer_settings.crypto import keyring
time.sleep(max(0, float(sys.argv[3]) - time.time()))
ring = keyring.load_or_create_file(sys.argv[2])
odoo = sorted(name for name in sys.modules if name.split(".")[0] == "odoo")
print(json.dumps([ring.current_id, hashlib.sha256(ring.current_key).hexdigest(), odoo]))
"""
URL = "https://hooks.example.org/secrets"
SEALED_COLUMNS = ("secret_sealed", "previous_secret_sealed")
VAULT_LOGGER = "odoo.addons.coop_developer_settings.models.coop_secret_vault"
DELIVERY_LOGGER = "odoo.addons.coop_developer_settings.models.coop_webhook_delivery"


def shown_key_location(env):
    """What the settings page shows of the key's location: the form's
    first onchange, as the web client asks for it."""
    spec = {"coop_secret_key_location": {}}
    answer = env["res.config.settings"].onchange({}, [], spec)
    return answer["value"]["coop_secret_key_location"]


@tagged("post_install", "-at_install")
class TestSealing(BaseCase):
    """The plain-Python crypto package, on its own (no database)."""

    def setUp(self):
        super().setUp()
        self.ring = keyring.Keyring([keyring.new_entry()])

    def test_a_sealed_secret_opens_with_its_key_only(self):
        sealed = sealing.seal(self.ring, SECRET, PURPOSE)
        self.assertTrue(sealed.startswith(f"coop-v1:{self.ring.current_id}:"))
        self.assertNotIn(SECRET, sealed)
        self.assertNotIn("whsec_", sealed)
        self.assertNotEqual(sealed, sealing.seal(self.ring, SECRET, PURPOSE))
        self.assertEqual(sealing.unseal(self.ring, sealed, PURPOSE), SECRET)
        # Another key under the same id: refused, never a wrong plaintext.
        impostor = keyring.Keyring([(self.ring.current_id, os.urandom(32))])
        with self.assertRaises(sealing.Tampered):
            sealing.unseal(impostor, sealed, PURPOSE)
        # A keyring without its id: the key is lost.
        with self.assertRaises(sealing.UnknownKey) as caught:
            sealing.unseal(keyring.Keyring([keyring.new_entry()]), sealed, PURPOSE)
        self.assertEqual(caught.exception.key_id, self.ring.current_id)

    def test_tampered_values_are_refused(self):
        sealed = sealing.seal(self.ring, SECRET, PURPOSE)
        head, data = sealed.rsplit(":", 1)
        flipped = data[:20] + ("B" if data[20] != "B" else "C") + data[21:]
        other_id = keyring.Keyring([("other", self.ring.current_key)])
        for tampered in (
            f"{head}:{flipped}",
            f"{head}:{data[:-4]}",
            f"{head}:not base64!",
            sealed.replace("coop-v1", "coop-v2", 1),
            SECRET,
            "",
        ):
            with self.subTest(tampered=tampered), self.assertRaises(sealing.Tampered):
                sealing.unseal(self.ring, tampered, PURPOSE)
        # The key id is authenticated: relabelled, the value does not open.
        relabelled = sealed.replace(self.ring.current_id, "other", 1)
        with self.assertRaises(sealing.Tampered):
            sealing.unseal(other_id, relabelled, PURPOSE)
        # Sealed for one column, it does not open in another.
        with self.assertRaises(sealing.Tampered):
            sealing.unseal(self.ring, sealed, "coop_webhook_endpoint.other")

    def test_the_key_id_routes_each_value_to_its_key(self):
        old = sealing.seal(self.ring, SECRET, PURPOSE)
        rotated = self.ring.with_new_key()
        self.assertEqual(rotated.ids[1:], self.ring.ids)
        new = sealing.seal(rotated, SECRET, PURPOSE)
        self.assertEqual(sealing.key_id(new), rotated.current_id)
        self.assertEqual(sealing.key_id(old), self.ring.current_id)
        for sealed in (old, new):
            self.assertEqual(sealing.unseal(rotated, sealed, PURPOSE), SECRET)
        with self.assertRaises(sealing.UnknownKey):
            sealing.unseal(self.ring, new, PURPOSE)


@tagged("post_install", "-at_install")
class TestKeyring(BaseCase):
    """The plain-Python crypto package, on its own (no database)."""

    def setUp(self):
        super().setUp()
        self.directory = Path(tempfile.mkdtemp(prefix="coop-keyring-"))
        self.addCleanup(subprocess.run, ["rm", "-rf", str(self.directory)], check=False)
        self.path = self.directory / "coop_developer_settings" / "secret.keys"

    def mode(self, path):
        return stat.S_IMODE(os.stat(path).st_mode)

    def test_parse_reads_entries_and_refuses_malformed_ones_without_the_key(self):
        entries = [keyring.new_entry_text() for _ in range(2)]
        ring = keyring.parse(f" {entries[0]},\n{entries[1]} ")
        self.assertEqual(ring.ids, [entry.split(":")[0] for entry in entries])
        self.assertEqual(keyring.parse(ring.dumps()).entries, ring.entries)
        key = entries[0].split(":")[1]
        for bad in (
            "",
            key,
            f"bad_id:{key}",
            f"k1:{key[:-8]}",
            f"{entries[0]} {entries[0]}",
        ):
            with (
                self.subTest(bad=bad),
                self.assertRaises(keyring.KeyringError) as caught,
            ):
                keyring.parse(bad)
            self.assertNotIn(key, str(caught.exception))

    def test_the_key_file_is_created_once_readable_by_its_user_only(self):
        first = keyring.load_or_create_file(str(self.path))
        self.assertEqual(self.mode(self.path), 0o600)
        self.assertEqual(self.mode(self.path.parent), 0o700)
        again = keyring.load_or_create_file(str(self.path))
        self.assertEqual(again.entries, first.entries)
        self.assertEqual(os.listdir(self.path.parent), ["secret.keys"])

    def test_concurrent_first_use_by_several_processes_yields_one_key(self):
        start = time.time() + 1.5
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    FIRST_USE,
                    str(ADDON_PARENT),
                    str(self.path),
                    str(start),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        results = []
        for process in processes:
            out, err = process.communicate(timeout=60)
            self.assertEqual(process.returncode, 0, err)
            results.append(json.loads(out))
        self.assertEqual(len({(kid, digest) for kid, digest, _ in results}), 1, results)
        self.assertEqual(results[0][2], [], "the crypto package imports no odoo")
        self.assertEqual(results[0][0], keyring.load_file(str(self.path)).current_id)
        self.assertEqual(os.listdir(self.path.parent), ["secret.keys"])
        self.assertEqual(self.mode(self.path), 0o600)

    def test_a_new_key_goes_in_front_and_the_old_ones_stay(self):
        first = keyring.load_or_create_file(str(self.path))
        rotated = keyring.add_key_to_file(str(self.path))
        self.assertEqual(rotated.entries[1:], first.entries)
        self.assertEqual(keyring.load_file(str(self.path)).entries, rotated.entries)
        self.assertEqual(self.mode(self.path), 0o600)
        self.assertEqual(os.listdir(self.path.parent), ["secret.keys"])

    def test_a_missing_or_foreign_file_is_a_keyring_error(self):
        with self.assertRaises(keyring.KeyringError):
            keyring.load_file(str(self.path))
        self.path.parent.mkdir()
        self.path.write_bytes(b"\xff\xfe not a keyring")
        with self.assertRaises(keyring.KeyringError):
            keyring.load_file(str(self.path))


@tagged("post_install", "-at_install")
class TestSecretsAtRest(KeyConfigMixin, WebhookCase):
    def raw_row(self, endpoint):
        """The endpoint's row as the database (and a dump of it) holds it."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT row_to_json(e)::text FROM coop_webhook_endpoint e WHERE id = %s",
            [endpoint.id],
        )
        return self.env.cr.fetchone()[0]

    def sealed(self, endpoint):
        self.env.cr.execute(
            "SELECT secret_sealed, previous_secret_sealed FROM coop_webhook_endpoint "
            "WHERE id = %s",
            [endpoint.id],
        )
        return self.env.cr.fetchone()

    def test_the_table_holds_no_clear_secret(self):
        endpoint = self.endpoint(URL)
        old = endpoint._secret()
        endpoint.with_user(self.developer)._rotate_secret()
        new = endpoint._secret()
        self.assertEqual(endpoint._signing_secrets(), [new, old])
        row = self.raw_row(endpoint)
        for secret in (old, new):
            self.assertNotIn(secret, row)
        self.assertNotIn("whsec_", row)
        current_id = keyring.load_file(self.key_file).current_id
        for sealed in self.sealed(endpoint):
            self.assertTrue(sealed.startswith(f"coop-v1:{current_id}:"), sealed)
        # Nor in the chatter, its tracking or the logs of the messages.
        self.env.cr.execute(
            "SELECT COUNT(*) FROM mail_message m "
            "LEFT JOIN mail_tracking_value t ON t.mail_message_id = m.id "
            "WHERE m.model = 'coop.webhook.endpoint' AND m.res_id = %s "
            "AND (m.body::text LIKE '%%whsec_%%' "
            "     OR t.old_value_char LIKE '%%whsec_%%' "
            "     OR t.new_value_char LIKE '%%whsec_%%')",
            [endpoint.id],
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    def test_administrators_read_and_export_no_secret(self):
        endpoint = self.endpoint(URL)
        endpoint.with_user(self.developer)._rotate_secret()
        secrets = endpoint._signing_secrets()
        admin = self.env.ref("base.user_admin")
        Endpoint = self.env["coop.webhook.endpoint"].with_user(admin)
        exportable = [
            name for name, field in Endpoint._fields.items() if field.exportable
        ]
        seen = json.dumps(
            [
                Endpoint.browse(endpoint.id).read(),
                Endpoint.search_read([("id", "=", endpoint.id)]),
                Endpoint.browse(endpoint.id).export_data(exportable),
                Endpoint.fields_get(),
                Endpoint.web_search_read(
                    [("id", "=", endpoint.id)],
                    {name: {} for name in exportable if name != "message_ids"},
                ),
            ],
            default=str,
        )
        self.assertNotIn("whsec_", seen)
        for secret in secrets:
            self.assertNotIn(secret, seen)
        for name in ("secret", "previous_secret", *SEALED_COLUMNS):
            with (
                self.subTest(field=name),
                self.assertRaisesRegex(ValueError, "Invalid field"),
            ):
                Endpoint.browse(endpoint.id).read([name])

    def test_without_a_configured_key_the_addon_creates_one_in_the_data_dir(self):
        self.assertIn(self.key_file, shown_key_location(self.env))
        self.assertFalse(os.path.exists(self.key_file))
        endpoint = self.endpoint(URL)
        self.assertEqual(stat.S_IMODE(os.stat(self.key_file).st_mode), 0o600)
        ring = keyring.load_file(self.key_file)
        self.assertEqual(ring.ids, [self.sealed(endpoint)[0].split(":")[1]])
        shown = shown_key_location(self.env)
        self.assertIn(self.key_file, shown)
        self.assertIn("backup must hold the database and this key", shown)
        self.endpoint(URL + "/2")
        self.assertEqual(keyring.load_file(self.key_file).entries, ring.entries)

    def test_the_configured_key_is_used_and_no_file_is_created(self):
        entry = keyring.new_entry_text()
        self.use_keys(data_dir=self.data_dir, coop_secret_key=entry)
        endpoint = self.endpoint(URL)
        self.assertEqual(self.sealed(endpoint)[0].split(":")[1], entry.split(":")[0])
        self.assertTrue(endpoint._secret().startswith("whsec_"))
        self.assertFalse(os.path.exists(self.key_file))
        shown = shown_key_location(self.env)
        self.assertIn("coop_secret_key", shown)
        self.assertNotIn(entry.split(":")[1], shown)
        # A file the configuration names (a secret store's mount, say).
        in_file = keyring.new_entry_text()
        key_path = os.path.join(self.data_dir, "mounted.keys")
        with open(key_path, "w", encoding="ascii") as key_file:
            key_file.write(f"{in_file}\n{entry}\n")
        self.use_keys(data_dir=self.data_dir, coop_secret_key_file=key_path)
        self.assertTrue(endpoint._secret().startswith("whsec_"))
        from_file = self.endpoint(URL + "/file")
        self.assertEqual(self.sealed(from_file)[0].split(":")[1], in_file.split(":")[0])
        self.assertIn(key_path, shown_key_location(self.env))
        # The environment variable, when the configuration has no key.
        other = keyring.new_entry_text()
        self.use_keys(data_dir=self.data_dir)
        with patch.dict(os.environ, {"COOP_SECRET_KEY": f"{other},{entry}"}):
            self.assertTrue(endpoint._secret().startswith("whsec_"))
            again = self.endpoint(URL + "/2")
            self.assertEqual(self.sealed(again)[0].split(":")[1], other.split(":")[0])
        self.assertFalse(os.path.exists(self.key_file))

    @mute_logger(VAULT_LOGGER)
    def test_an_invalid_key_refuses_with_a_clear_message(self):
        self.use_keys(data_dir=self.data_dir, coop_secret_key="not-a-key")
        Endpoint = self.env["coop.webhook.endpoint"]
        before = Endpoint.search_count([])
        with self.assertRaisesRegex(UserError, "encryption key is missing or invalid"):
            self.endpoint(URL)
        self.assertEqual(Endpoint.search_count([]), before)

    @mute_logger(VAULT_LOGGER, DELIVERY_LOGGER)
    def test_a_lost_key_the_deliveries_stop_and_rotate_secret_replaces_it(self):
        self.env["ir.config_parameter"].set_param(
            "coop_developer_settings.webhook_manual_send_interval", "0"
        )
        lost = keyring.new_entry_text()
        self.use_keys(data_dir=self.data_dir, coop_secret_key=lost)
        with Receiver() as receiver:
            endpoint = self.endpoint(receiver.url)
            self.use_keys(
                data_dir=self.data_dir, coop_secret_key=keyring.new_entry_text()
            )
            with self.assertRaisesRegex(SecretUnreadable, "Rotate the secret"):
                endpoint._secret()
            endpoint.with_user(self.developer).action_send_test_event()
            self.run_jobs(rounds=1)
            [delivery] = self.deliveries(endpoint)
            self.assertEqual(
                delivery.attempt_ids.error, "internal error: SecretUnreadable"
            )
            self.assertEqual(receiver.requests, [])
            endpoint.with_user(self.developer)._rotate_secret()
            new = endpoint._secret()
            self.assertEqual(endpoint._signing_secrets(), [new])
            self.assertFalse(endpoint.previous_secret_until)
            self.assertIn("could not be decrypted", endpoint.message_ids[0].body)
            delivery.with_user(self.developer).action_redeliver()
            self.run_jobs()
        [request] = receiver.requests
        Webhook(new).verify(request["body"], request["headers"])

    def test_reencryption_moves_every_secret_to_the_current_key(self):
        old = keyring.new_entry_text()
        self.use_keys(data_dir=self.data_dir, coop_secret_key=old)
        endpoints = [self.endpoint(f"{URL}/{i}") for i in range(3)]
        endpoints[0].with_user(self.developer)._rotate_secret()
        before = [endpoint._signing_secrets() for endpoint in endpoints]
        new = keyring.new_entry_text()
        self.use_keys(
            data_dir=self.data_dir,
            coop_secret_key=f"{new},{old} {self.server_keys}",
        )
        vault = self.env["coop.secret.vault"]
        new_id, old_id = new.split(":")[0], old.split(":")[0]
        in_use = vault._key_ids_in_use()
        self.assertEqual(in_use.get(old_id), 4)
        self.assertIn(
            ("coop_webhook_endpoint", "secret_sealed"), vault._sealed_columns()
        )
        counts = []
        for table, column in vault._sealed_columns():
            while count := vault._reencrypt_batch(table, column, 2):
                counts.append(count)
        self.assertEqual(sum(counts), sum(in_use.values()), "all, once")
        self.assertEqual(max(counts), 2, "in batches")
        in_use = vault._key_ids_in_use()
        self.assertNotIn(old_id, in_use)
        self.assertGreaterEqual(in_use[new_id], 4)
        self.assertEqual([e._signing_secrets() for e in endpoints], before)
        # The old key is no longer needed.
        self.use_keys(
            data_dir=self.data_dir, coop_secret_key=f"{new} {self.server_keys}"
        )
        self.assertEqual([e._signing_secrets() for e in endpoints], before)
        for table, column in vault._sealed_columns():
            self.assertFalse(vault._reencrypt_batch(table, column, 2))


@tagged("post_install", "-at_install")
class TestRevealedSecret(KeyConfigMixin, DeliveryJobsMixin, HttpCase):
    """Owners and administrators see a secret through Secret, after their
    password; deliveries verify with it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        allow_local_receivers(cls.env)
        company = cls.env["res.company"].create({"name": "Reveal coop shop"})
        cls.developer = new_developer(cls.env, "coop-reveal-dev", company)
        cls.opened_type = cls.env.ref(
            "coop_developer_settings.webhook_event_sale_cycle_opened"
        )

    def call(self, model, method, args, kwargs=None):
        return self.make_jsonrpc_request(
            "/web/dataset/call_kw",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )

    def reveal(self, login, endpoint):
        """Secret, as the button runs it: the password asked, then the secret."""
        self.authenticate(login, login)
        action = self.call(
            "coop.webhook.endpoint", "action_reveal_secret", [endpoint.ids]
        )
        self.assertEqual(action["res_model"], "res.users.identitycheck")
        self.call(
            "res.users.identitycheck",
            "write",
            [[action["res_id"]], {"password": login}],
        )
        shown = self.call("res.users.identitycheck", "run_check", [[action["res_id"]]])
        return shown["context"]["default_secret"]

    def test_deliveries_verify_with_the_secret_revealed_to_owner_and_admin(self):
        with Receiver() as receiver:
            endpoint = (
                self.env["coop.webhook.endpoint"]
                .with_user(self.developer)
                .create({"event_type_id": self.opened_type.id, "url": receiver.url})
            )
            endpoint.with_user(self.developer).action_send_test_event()
            self.run_jobs()
        secret = self.reveal("coop-reveal-dev", endpoint)
        self.assertEqual(self.reveal("admin", endpoint), secret)
        [request] = receiver.requests
        Webhook(secret).verify(request["body"], request["headers"])
