# Copyright 2026 Coop Developer Settings contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The plain-Python crypto package, on its own (no database)."""

import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from odoo.tests import tagged
from odoo.tests.common import BaseCase

from ..crypto import keyring, sealing

PACKAGE = Path(__file__).resolve().parent.parent / "crypto"
PURPOSE = "coop_webhook_endpoint.secret_sealed"
SECRET = "whsec_" + "A" * 32

# Loads the package by path, as a plain package, in a fresh interpreter;
# at the given moment, creates or reads the key file; prints its key.
FIRST_USE = """
import hashlib, importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location(
    "coop_crypto", sys.argv[1] + "/__init__.py",
    submodule_search_locations=[sys.argv[1]])
package = importlib.util.module_from_spec(spec)
sys.modules["coop_crypto"] = package
spec.loader.exec_module(package)
from coop_crypto import keyring
time.sleep(max(0, float(sys.argv[3]) - time.time()))
ring = keyring.load_or_create_file(sys.argv[2])
odoo = sorted(name for name in sys.modules if name.split(".")[0] == "odoo")
print(json.dumps([ring.current_id, hashlib.sha256(ring.current_key).hexdigest(), odoo]))
"""


@tagged("post_install", "-at_install")
class TestSealing(BaseCase):
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
                    str(PACKAGE),
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
