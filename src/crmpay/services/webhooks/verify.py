"""GoCardless webhook signatures: `Webhook-Signature` is the lowercase hex HMAC-SHA256 of
the raw body, keyed with the endpoint secret as UTF-8 text (gocardless-pro's
`webhooks._verify_signature`), compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

INVALID_SIGNATURE = 498  # "Token Invalid": what GoCardless asks a receiver to answer a bad signature with


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_ok(body: bytes, secret: str | None, signature: str | None) -> bool:
    """False for a missing secret or header, or any mismatch; never raises."""
    if not secret or not signature:
        return False
    expected = sign(body, secret)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("ascii", "replace"))
