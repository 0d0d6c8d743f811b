"""Encrypt and decrypt secrets with a keyring (AES-256-GCM).

A sealed value is ``coop-v1:<key id>:<base64 of nonce + ciphertext>``: the
key id routes it to its key, and lets a key rotation find what is not yet
under the current key. The version, the key id and the purpose (what the
value is, e.g. the column that holds it) are authenticated: a sealed value
moved to another column, or given another key id, is refused like a
tampered one.
"""

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "coop-v1"
NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value cannot be opened. Never holds the value."""


class UnknownKey(SealError):
    """Sealed with a key the keyring does not hold (lost, or removed)."""

    def __init__(self, key_id):
        super().__init__(f"sealed with key {key_id}, which the keyring does not hold")
        self.key_id = key_id


class Tampered(SealError):
    """Not a sealed value, altered, or sealed for another purpose."""


def _associated_data(key_id, purpose):
    return f"{VERSION}:{key_id}:{purpose}".encode()


def seal(keyring, plaintext, purpose):
    """plaintext (str) encrypted with the keyring's current key."""
    key_id = keyring.current_id
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(keyring.current_key).encrypt(
        nonce, plaintext.encode(), _associated_data(key_id, purpose)
    )
    encoded = base64.urlsafe_b64encode(nonce + ciphertext).decode()
    return f"{VERSION}:{key_id}:{encoded}"


def key_id(sealed):
    """The id of the key a sealed value was encrypted with."""
    version, sep, rest = sealed.partition(":")
    found, sep2, _data = rest.partition(":")
    if version != VERSION or not (sep and sep2 and found):
        raise Tampered("not a sealed value")
    return found


def unseal(keyring, sealed, purpose):
    """The plaintext of a sealed value; UnknownKey or Tampered otherwise."""
    found = key_id(sealed)
    try:
        key = keyring.key(found)
    except KeyError:
        raise UnknownKey(found) from None
    try:
        data = base64.urlsafe_b64decode(sealed.rsplit(":", 1)[1].encode())
    except (binascii.Error, ValueError):
        raise Tampered("not a sealed value") from None
    nonce, ciphertext = data[:NONCE_BYTES], data[NONCE_BYTES:]
    try:
        plaintext = AESGCM(key).decrypt(
            nonce, ciphertext, _associated_data(found, purpose)
        )
    except (InvalidTag, ValueError):
        raise Tampered("altered, or sealed with another key or purpose") from None
    return plaintext.decode()
