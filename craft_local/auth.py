"""Access tokens (HS256 JWT), the credential of a running execution, and constant-time token
comparison."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from typing import Any

import jwt

from craft_local.errors import PlatformError, unauthorized

ISSUER = "craft-local"
_KEY_CONTEXT = b"craft-local access-token key\0"
_EXECUTION_CONTEXT = b"craft-local execution credential\0"
#: How an execution's credential begins (``craft-execution.<execution id>.<HMAC>``).
EXECUTION_CREDENTIAL_PREFIX = "craft-execution."
#: The claim of an access token issued for an execution's credential: the execution's id.
EXECUTION_CLAIM = "craft_execution"
USER = {"id": "local-user", "name": "Local User", "email": "local-user@localhost"}


def tokens_equal(given: str | None, expected: str) -> bool:
    """Compare two secrets in constant time; ``None`` never matches."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def new_token() -> str:
    """A fresh random token (endpoint tokens, ids of secrets)."""
    return secrets.token_urlsafe(24)


def load_or_create_secret(data_dir: Path) -> bytes:
    """The JWT signing key, created once per data dir so tokens survive a restart."""
    path = data_dir / "jwt-secret"
    if path.exists():
        return path.read_bytes()
    secret = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    return secret


def signing_key(secret: bytes, sdk_token: str) -> bytes:
    """The HS256 key of access tokens: bound to the data dir's secret and the SDK token."""
    return hmac.new(secret, _KEY_CONTEXT + sdk_token.encode(), hashlib.sha256).digest()


class TokenIssuer:
    """Exchanges the SDK token for JWTs and checks them.

    The signing key is derived from the data dir's secret *and* the SDK token: a new SDK token
    ends every access token issued under the old one. A token must carry ``exp``, ``iat`` and
    ``sub``, and the platform's ``iss``.

    :param secret: the data dir's secret (``jwt-secret``).
    :param sdk_token: the accepted refresh token.
    :param lifetime: seconds between ``iat`` and ``exp``.
    """

    def __init__(self, secret: bytes, sdk_token: str, lifetime: int) -> None:
        self._key = signing_key(secret, sdk_token)
        self._sdk_token = sdk_token
        self.lifetime = lifetime

    def is_sdk_token(self, token: str | None) -> bool:
        """Whether ``token`` is the SDK token (constant-time)."""
        return tokens_equal(token, self._sdk_token)

    def refresh(self, refresh_token: Any) -> str:
        """A new access token for the SDK token ``refresh_token``, else a 401."""
        if not isinstance(refresh_token, str) or not self.is_sdk_token(refresh_token):
            raise unauthorized("Invalid refresh token.")
        now = int(time.time())
        claims = {"sub": USER["id"], "iat": now, "exp": now + self.lifetime, "iss": ISSUER}
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token, else a 401 (expired or invalid)."""
        try:
            return jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("The access token has expired.") from None
        except jwt.InvalidTokenError:
            raise unauthorized("Invalid access token.") from None

    def check_bearer(
        self, authorization: str | None, *, execution_scope: bool = False
    ) -> dict[str, Any]:
        """Check an ``Authorization: Bearer <jwt>`` header value.

        :param execution_scope: the route takes the access token of an execution's credential
            (recording that execution's metrics); everywhere else such a token is refused (403).
        """
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("Missing bearer token.")
        claims = self.verify(token.strip())
        if EXECUTION_CLAIM in claims and not execution_scope:
            raise PlatformError(
                403,
                "Forbidden",
                "An execution's credential can only record that execution's metrics.",
            )
        return claims

    # ---- the credential of a running execution ----------------------------------------
    def execution_credential(self, execution_id: str) -> str:
        """The refresh token the platform gives the execution ``execution_id`` (its SDK's
        ``CRAFT_AI_SDK_TOKEN``): derived from the access-token key, so it is neither the SDK
        token nor the pod token, and ends with the SDK token."""
        mac = hmac.new(self._key, _EXECUTION_CONTEXT + execution_id.encode(), hashlib.sha256)
        return f"{EXECUTION_CREDENTIAL_PREFIX}{execution_id}.{mac.hexdigest()}"

    def execution_of(self, token: Any) -> str | None:
        """The execution whose credential ``token`` is, else ``None`` (constant-time check)."""
        if not isinstance(token, str) or not token.startswith(EXECUTION_CREDENTIAL_PREFIX):
            return None
        execution_id = token[len(EXECUTION_CREDENTIAL_PREFIX) :].rpartition(".")[0]
        if not execution_id or not tokens_equal(token, self.execution_credential(execution_id)):
            return None
        return execution_id

    def refresh_execution(self, execution_id: str) -> str:
        """An access token for the credential of ``execution_id``: it opens only the routes
        recording that execution's metrics (:data:`EXECUTION_CLAIM`)."""
        now = int(time.time())
        claims = {
            "sub": f"execution:{execution_id}",
            EXECUTION_CLAIM: execution_id,
            "iat": now,
            "exp": now + self.lifetime,
            "iss": ISSUER,
        }
        return jwt.encode(claims, self._key, algorithm="HS256")
