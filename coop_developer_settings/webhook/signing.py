"""Standard Webhooks signatures (standard-webhooks spec, "v1" scheme).

A secret is ``whsec_`` + base64 of random bytes; the signature of a message
is ``v1,`` + base64(HMAC-SHA256(secret, "<id>.<timestamp>.<body>")).
"""

import base64
import hashlib
import hmac
import secrets

from .schemas import SECRET_PREFIX

SECRET_BYTES = 32


def generate_secret():
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret):
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX}")
    return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)


def sign(secret, message_id, timestamp, body):
    """The ``v1,<base64>`` signature of body (bytes) sent at timestamp."""
    signed = f"{message_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_, message_id, timestamp, body):
    """Space-separated signatures, one per secret (rotation overlap)."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets_)


def headers(secrets_, message_id, timestamp, body):
    """The three Standard Webhooks headers for one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signature_header(secrets_, message_id, timestamp, body),
    }
