"""The keys that encrypt secrets at rest.

A keyring is an ordered list of ``<key id>:<key>`` entries (the key is 32
random bytes, URL-safe base64), separated by commas, spaces or new lines.
The first entry encrypts; every entry decrypts what was encrypted with it,
so that a rotation keeps the old key readable until every secret has been
encrypted again with the new one.
"""

import base64
import binascii
import contextlib
import os
import re
import secrets

KEY_BYTES = 32
# Key ids are in each ciphertext (they route it to its key), and in SQL.
KEY_ID = re.compile(r"^[A-Za-z0-9-]{1,32}$")
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


class KeyringError(Exception):
    """The keyring is missing, unreadable or malformed. Its message never
    holds a key."""


class Keyring:
    """Keys by id; the first one encrypts."""

    def __init__(self, entries):
        if not entries:
            raise KeyringError("the keyring holds no key")
        self.entries = list(entries)
        self._keys = dict(self.entries)
        if len(self._keys) != len(self.entries):
            raise KeyringError("the keyring holds a key id twice")

    @property
    def current_id(self):
        return self.entries[0][0]

    @property
    def current_key(self):
        return self.entries[0][1]

    @property
    def ids(self):
        return [key_id for key_id, _key in self.entries]

    def key(self, key_id):
        """The key of that id; KeyError when this keyring does not hold it."""
        return self._keys[key_id]

    def with_new_key(self):
        """This keyring with a new key in front (it encrypts from now on)."""
        return Keyring([new_entry(), *self.entries])

    def dumps(self):
        return "".join(f"{key_id}:{_encode(key)}\n" for key_id, key in self.entries)


def _encode(key):
    return base64.urlsafe_b64encode(key).decode()


def new_entry():
    """(id, key) of a new random key."""
    return secrets.token_hex(4), secrets.token_bytes(KEY_BYTES)


def new_entry_text():
    """A new key as a keyring entry, for a configuration or a secret store."""
    key_id, key = new_entry()
    return f"{key_id}:{_encode(key)}"


def parse(text):
    """The Keyring of a text of ``<id>:<key>`` entries; KeyringError when
    one is malformed (the message names the entry's position only)."""
    entries = []
    for position, entry in enumerate(re.split(r"[\s,]+", text.strip()), 1):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep or not KEY_ID.match(key_id):
            raise KeyringError(
                f"key {position}: expected <id>:<key>, the id made of letters, "
                "digits and dashes"
            )
        try:
            key = base64.urlsafe_b64decode(encoded.encode())
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise KeyringError(
                f"key {position} ({key_id}): not {KEY_BYTES} bytes in URL-safe base64"
            )
        entries.append((key_id, key))
    return Keyring(entries)


def load_file(path):
    """The keyring in a file; KeyringError when it is missing or wrong."""
    try:
        with open(path, encoding="ascii") as file:
            return parse(file.read())
    except OSError as exc:
        raise KeyringError(f"cannot read the key file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise KeyringError(f"the key file {path} is not a keyring") from exc


def _write_new_file(path, keyring):
    """Write keyring into a new file beside path, readable by this user only
    (O_EXCL: never an existing file); returns its name."""
    directory = os.path.dirname(path)
    temporary = os.path.join(
        directory, f".{os.path.basename(path)}.{secrets.token_hex(8)}"
    )
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(keyring.dumps())
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary


def load_or_create_file(path):
    """The keyring in path, created with one new key when there is none.

    Processes starting at once all end up with the same key: each writes a
    complete file of its own (mode 0600, O_EXCL) and links it to path, which
    only the first one can do; the others read the winner's."""
    if os.path.exists(path):
        return load_file(path)
    os.makedirs(os.path.dirname(path), mode=DIRECTORY_MODE, exist_ok=True)
    candidate = _write_new_file(path, Keyring([new_entry()]))
    try:
        # Another process may have created it first: its key is the one.
        with contextlib.suppress(FileExistsError):
            os.link(candidate, path)
    finally:
        os.unlink(candidate)
    return load_file(path)


def add_key_to_file(path):
    """Put a new key in front of the keyring in path (atomically: readers see
    the old file or the new one); returns the new keyring."""
    keyring = load_file(path).with_new_key()
    os.replace(_write_new_file(path, keyring), path)
    return keyring
