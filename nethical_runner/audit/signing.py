"""HMAC-SHA256 signatures on tree heads, keyed by ``NETHICAL_AUDIT_KEY``.

An unsigned log proves only that it is internally consistent: someone able to rewrite every
file can rebuild a consistent history. A head signed with a key that the writer holds (a CI
secret) cannot be rebuilt without it, so ``verify`` with the key detects a rewrite even when the
rewriter recomputed every hash. The key itself is never written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from nethical_runner.audit.formats import Signature, TreeHead

KEY_ENV = "NETHICAL_AUDIT_KEY"


def key_from_env() -> bytes | None:
    """The signing key, or None when ``NETHICAL_AUDIT_KEY`` is unset or empty (an empty value
    is what CI gives forks that may not see secrets; it must not sign with an empty key)."""
    value = os.environ.get(KEY_ENV, "")
    return value.encode("utf-8") if value else None


def sign(head: TreeHead, key: bytes) -> TreeHead:
    """``head`` with its HMAC-SHA256 signature over :meth:`TreeHead.signed_payload`."""
    value = hmac.new(key, head.signed_payload(), hashlib.sha256).hexdigest()
    return head.model_copy(update={"signature": Signature(value=value)})


def signature_valid(head: TreeHead, key: bytes) -> bool:
    """Whether ``head`` carries a signature made with ``key`` over its current content."""
    if head.signature is None:
        return False
    expected = hmac.new(key, head.signed_payload(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, head.signature.value)
