from __future__ import annotations

import jwt
import pytest

from craft_airflow.protocol.auth import TokenCache, refresh_margin, token_lifetime


def make_jwt(iat: int, exp: int) -> str:
    return jwt.encode({"iat": iat, "exp": exp, "sub": "u"}, "k" * 32, algorithm="HS256")


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_refresh_margin_is_120s_or_a_quarter_of_short_lifetimes():
    assert refresh_margin(3600) == 120
    assert refresh_margin(480) == 120
    assert refresh_margin(200) == 50
    assert refresh_margin(60) == 15


def test_lifetime_is_exp_minus_iat_regardless_of_the_server_clock():
    # Server clock far in the past: only the difference counts.
    assert token_lifetime(make_jwt(1_000, 4_600)) == 3600
    assert token_lifetime("not-a-jwt") is None
    assert token_lifetime(jwt.encode({"exp": 5}, "k" * 32, algorithm="HS256")) is None


def test_cache_refreshes_120s_before_expiry_counted_from_the_request_time():
    clock = FakeClock()
    cache = TokenCache(clock)
    assert cache.current() is None
    requested_at = clock.now
    clock.now += 3  # the refresh request took 3 s
    token = cache.store(make_jwt(0, 3600), requested_at)
    assert cache.current() == token
    clock.now = requested_at + 3600 - 120 - 0.001
    assert cache.current() == token
    clock.now = requested_at + 3600 - 120
    assert cache.current() is None


def test_short_lifetime_uses_three_quarters_of_it():
    clock = FakeClock()
    cache = TokenCache(clock)
    token = cache.store(make_jwt(0, 100), clock.now)
    clock.now += 74
    assert cache.current() == token
    clock.now += 1
    assert cache.current() is None


def test_unreadable_token_is_kept_a_short_while():
    clock = FakeClock()
    cache = TokenCache(clock)
    cache.store("opaque", clock.now)
    assert cache.current() == "opaque"
    clock.now += 300
    assert cache.current() is None


@pytest.mark.parametrize("same", [True, False])
def test_invalidate_after_401_only_drops_the_rejected_token(same):
    clock = FakeClock()
    cache = TokenCache(clock)
    fresh = cache.store(make_jwt(0, 3600), clock.now)
    cache.invalidate(fresh if same else "older-token")
    assert (cache.current() is None) == same
    cache.invalidate()
    assert cache.current() is None
