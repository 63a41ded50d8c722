"""Web Push (RFC 8030) with VAPID (RFC 8292) and encrypted payloads (RFC 8291, aes128gcm).

pywebpush does the encryption and the VAPID signature; we hold one aiohttp session for the
process (a TLS handshake per push would dominate a broadcast) and sort the push service's
answers into: delivered, gone (the browser dropped the subscription: forget it), and failed
(transient, or permanent for a refusal retrying cannot fix).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush_async

from mindspace.platform.config import Settings

# How long a push service keeps a message for a device that is offline.
DEFAULT_TTL_S = 24 * 60 * 60


@dataclass(frozen=True, slots=True)
class PushTarget:
    """A browser's PushSubscription: where to send, and the keys to encrypt for."""

    endpoint: str
    p256dh: str
    auth: str


class PushGone(RuntimeError):
    """404/410: the subscription no longer exists; it must be forgotten, not retried."""


class PushDeliveryError(RuntimeError):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def load_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A PEM private key, or the raw 32-byte scalar base64url-encoded (what most VAPID key
    generators print)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
    else:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("a VAPID key must be a P-256 private key")
    return key


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The application server key a browser passes to `pushManager.subscribe()`."""
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class WebPush:
    def __init__(
        self,
        *,
        private_key: str,
        subject: str,
        ttl_s: int = DEFAULT_TTL_S,
        timeout_s: float = 10.0,
    ) -> None:
        key = load_private_key(private_key)
        self._vapid = Vapid02(private_key=key)
        self.public_key = public_key_b64(key)
        self._subject = subject
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> WebPush | None:
        if settings.vapid_private_key is None:
            return None
        return cls(
            private_key=settings.vapid_private_key.get_secret_value(),
            subject=settings.vapid_subject,
        )

    async def send(self, target: PushTarget, payload: bytes, *, urgency: str = "normal") -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        # A fresh claims dict each time: pywebpush fills in `aud` and `exp` in place.
        claims: dict[str, str | int] = {"sub": self._subject}
        subscription: dict[str, Any] = {
            "endpoint": target.endpoint,
            "keys": {"p256dh": target.p256dh, "auth": target.auth},
        }
        try:
            await webpush_async(
                subscription,
                data=payload.decode(),
                vapid_private_key=self._vapid,
                vapid_claims=claims,
                ttl=self._ttl_s,
                timeout=self._timeout_s,
                headers={"Urgency": urgency},
                aiohttp_session=self._session,
            )
        except WebPushException as exc:
            status = exc.status_code
            if status in (404, 410):
                raise PushGone(f"push service answered {status}") from exc
            # No status: the subscription's keys are unusable. 400 (malformed), 403 (our key
            # refused), 413 (too large): the same request fails again. 429 and 5xx are the
            # service's load or outage: try later.
            permanent = status is None or (400 <= status < 500 and status != 429)
            raise PushDeliveryError(f"push service answered {status}", permanent=permanent) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise PushDeliveryError(f"push service unreachable: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
