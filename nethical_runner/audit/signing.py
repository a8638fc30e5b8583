"""HMAC-SHA256 signatures on tree heads, keyed by ``NETHICAL_AUDIT_KEY``.

An unsigned log proves only that it is internally consistent: someone able to rewrite every
file can rebuild a consistent history. A head signed with a key that the writer holds (a CI
secret) cannot be rebuilt without it, so ``verify`` with the key detects a rewrite even when the
rewriter recomputed every hash.

The key is never written anywhere, and never held in a plain ``str`` or ``bytes`` local either:
under ``pytest -l`` (``--showlocals``, common in CI) a traceback prints the ``repr`` of every
local of every frame, into the log and the JUnit file. It lives inside :class:`AuditKey`, whose
``repr`` and ``str`` are redacted, and is only ever used inside its methods.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from nethical_runner.audit.formats import Signature, TreeHead

KEY_ENV = "NETHICAL_AUDIT_KEY"
_REDACTED = "AuditKey([redacted])"


class AuditKey:
    """The signing key; its value never leaves the object except into ``hmac``."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def from_env(cls) -> AuditKey | None:
        """The key in ``NETHICAL_AUDIT_KEY``, or None when it is unset or empty (an empty value
        is what CI gives forks that may not see secrets; it must not sign with an empty key)."""
        if not os.environ.get(KEY_ENV):
            return None
        return cls(os.environ[KEY_ENV].encode("utf-8"))

    def digest(self, payload: bytes) -> str:
        """HMAC-SHA256 of ``payload``, as hex."""
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return _REDACTED

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("an audit key cannot be serialised")


def key_from_env() -> AuditKey | None:
    """:meth:`AuditKey.from_env`."""
    return AuditKey.from_env()


def sign(head: TreeHead, key: AuditKey) -> TreeHead:
    """``head`` with its HMAC-SHA256 signature over :meth:`TreeHead.signed_payload`."""
    signature = Signature(value=key.digest(head.signed_payload()))
    return head.model_copy(update={"signature": signature})


def signature_valid(head: TreeHead, key: AuditKey) -> bool:
    """Whether ``head`` carries a signature made with ``key`` over its current content."""
    if head.signature is None:
        return False
    return hmac.compare_digest(key.digest(head.signed_payload()), head.signature.value)
