"""Shared state of the async hooks: one token refresh and one session for many concurrent calls,
against the load stand-in (a real HTTP server on 127.0.0.1 that counts the calls)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from craft_fixtures import set_connection

from craft_airflow.hooks import shared_state
from craft_airflow.hooks.craft_async import CraftAIAsyncHook
from craft_airflow.protocol.auth import TokenCache
from craft_airflow.protocol.outcomes import OutcomeStatus

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from load_standin import LoadStandIn

N = 1000


@pytest.fixture
async def standin(monkeypatch: pytest.MonkeyPatch):
    async with LoadStandIn(hold=0.5, token_lifetime=3600) as server:
        set_connection(monkeypatch, server.url, server.sdk_token, control_url=server.url)
        for i in range(N):
            server.schedule(f"exec-{i}", time.time() + 0.3 + i / N)
        yield server
    shared_state.reset_for_tests()


async def test_many_waits_share_one_refresh_and_one_session(standin):
    hooks = [CraftAIAsyncHook() for _ in range(N)]
    events = await asyncio.gather(
        *(
            hook.await_outcome(f"exec-{i}", timeout=300, poll_interval=0.2)
            for i, hook in enumerate(hooks)
        )
    )
    assert {e.status for e in events} == {OutcomeStatus.SUCCESS}
    assert standin.counts["refresh"] == 1
    state = await shared_state.loop_state()
    assert list(state.sessions) == [True]  # one session: one TLS setting, not one per hook
    assert list(state.held) == [True]  # and one pool of held requests
    # One connection per wait at most for its long-polls (renewals reuse it), and the status
    # calls after the ends share the session's connections.
    assert state.held[True].connections_opened <= N
    assert standin.connections <= 2 * N
    assert standin.counts["unauthorized"] == 0


async def test_refresh_after_expiry_is_single_flight(standin):
    config = await CraftAIAsyncHook().get_config()
    # The process-wide cache of this connection, on a clock the test moves.
    now = [0.0]
    tokens = shared_state._tokens[shared_state.token_key(config)] = TokenCache(lambda: now[0])
    await asyncio.gather(*(CraftAIAsyncHook().get_execution(f"exec-{i}") for i in range(N)))
    assert standin.counts["refresh"] == 1
    now[0] += 3600  # past the token's refresh time
    assert tokens.current() is None
    await asyncio.gather(*(CraftAIAsyncHook().get_execution(f"exec-{i}") for i in range(N)))
    assert standin.counts["refresh"] == 2


async def test_refused_token_is_refreshed_once(standin):
    await asyncio.gather(*(CraftAIAsyncHook().get_execution(f"exec-{i}") for i in range(N)))
    standin.revoke_tokens()
    await asyncio.gather(*(CraftAIAsyncHook().get_execution(f"exec-{i}") for i in range(N)))
    assert standin.counts["refresh"] == 2
    # The calls that sent the revoked token got a 401 (the others already had the new one).
    assert 0 < standin.counts["unauthorized"] <= N


async def test_the_session_closes_with_its_loop(standin):
    state = await shared_state.loop_state()
    await CraftAIAsyncHook().get_execution("exec-0")
    session = state.sessions[True]
    others: list = []

    def other_loop() -> None:
        async def use() -> None:
            await CraftAIAsyncHook().get_execution("exec-1")
            others.append((await shared_state.loop_state()).sessions[True])

        asyncio.run(use())

    # A loop in another thread gets its own session (a session cannot cross loops) ...
    await asyncio.to_thread(other_loop)
    assert others and session not in others
    # ... which asyncio.run closed when that loop ended; this loop's session is untouched.
    assert all(other.closed for other in others)
    assert not session.closed


def test_token_key_never_holds_the_token():
    from craft_airflow.connection import CraftConnectionConfig

    config = CraftConnectionConfig(
        conn_id="x", environment_url="https://env", sdk_token="sekret-sdk-token"
    )
    key = shared_state.token_key(config)
    assert "sekret-sdk-token" not in repr(key)
    assert shared_state.shared_tokens(config) is shared_state.shared_tokens(config)
