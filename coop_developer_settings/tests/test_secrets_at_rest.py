# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Webhook signing secrets are encrypted at rest with a key held outside the
database, and no read, export or message returns them."""

import json
import os
import shutil
import stat
import tempfile
from unittest.mock import patch

from standardwebhooks.webhooks import Webhook

from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged
from odoo.tools import config, mute_logger

from ..crypto import keyring
from ..models.coop_secret_vault import SecretUnreadable, load_keyring
from .common import DeliveryJobsMixin, WebhookCase, allow_local_receivers, new_developer
from .receiver import Receiver

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


class KeyConfigMixin:
    """Each test chooses where the key is: a data directory of its own, and
    the configuration option or environment variable it sets."""

    def setUp(self):
        super().setUp()
        # The server's own keys: the database may hold secrets sealed with
        # them (the key rotation goes over every row).
        try:
            self.server_keys = load_keyring().dumps()
        except keyring.KeyringError:
            self.server_keys = ""
        self.data_dir = tempfile.mkdtemp(prefix="coop-data-")
        self.addCleanup(shutil.rmtree, self.data_dir)
        self.key_file = os.path.join(
            self.data_dir, "coop_developer_settings", "secret.keys"
        )
        self.use_keys(data_dir=self.data_dir)

    def use_keys(self, **options):
        """Server options from now on (coop_secret_key, coop_secret_key_file,
        data_dir); the others, and the environment variable, unset."""
        for patcher in (
            patch.dict(
                config.options,
                {"coop_secret_key": None, "coop_secret_key_file": None, **options},
            ),
            patch.dict(os.environ),
        ):
            patcher.start()
            self.addCleanup(patcher.stop)
        os.environ.pop("COOP_SECRET_KEY", None)


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
