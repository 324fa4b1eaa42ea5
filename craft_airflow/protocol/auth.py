"""Access-token cache for the SDK-token flow (contract §2), without I/O.

The transports ask :meth:`TokenCache.current` before each Bearer call, perform the refresh
request themselves when it returns ``None``, then hand the answer to :meth:`TokenCache.store`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

REFRESH_MARGIN = 120.0
# When the JWT carries no usable iat/exp, keep it this long and rely on the 401 path.
UNKNOWN_LIFETIME = 300.0


def refresh_margin(lifetime: float) -> float:
    """Seconds before expiry at which a token is refreshed.

    120 s like the SDK, but at most a quarter of the lifetime, so a short-lived token is
    still used for three quarters of its life instead of being refreshed before every call.
    """
    return max(0.0, min(REFRESH_MARGIN, lifetime / 4))


def token_lifetime(access_token: str) -> float | None:
    """Return ``exp - iat`` of a JWT (read without verifying), or ``None`` if unreadable."""
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
        lifetime = float(claims["exp"]) - float(claims["iat"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None
    return lifetime if lifetime > 0 else None


@dataclass
class _Cached:
    value: str
    refresh_at: float


class TokenCache:
    """Holds the current access token and decides when it must be refreshed.

    Lifetime = ``exp - iat`` added to the local (monotonic) time noted *before* the refresh
    request, so client/control clock skew does not matter (as the SDK does).

    :param clock: monotonic clock, injectable for tests.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cached: _Cached | None = None

    def now(self) -> float:
        return self._clock()

    def current(self) -> str | None:
        """Return a token still good to use, or ``None`` when a refresh is due."""
        cached = self._cached
        if cached is None or self._clock() >= cached.refresh_at:
            return None
        return cached.value

    def store(self, access_token: str, requested_at: float) -> str:
        """Keep a freshly obtained token.

        :param requested_at: the clock value noted just before sending the refresh request.
        """
        if self._cached is not None and self._cached.value == access_token:
            return access_token  # the same token again (a shared refresh): keep its expiry
        lifetime = token_lifetime(access_token)
        if lifetime is None:
            lifetime = UNKNOWN_LIFETIME
        self._cached = _Cached(access_token, requested_at + lifetime - refresh_margin(lifetime))
        return access_token

    def invalidate(self, token: str | None = None) -> None:
        """Forget the token (after a 401). With ``token``, only if it is still the cached one,
        so a concurrent caller's fresh token is not thrown away."""
        if token is None or (self._cached is not None and self._cached.value == token):
            self._cached = None
