"""craft_airflow.routes: the credential route is decided once, and serialises without secrets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from craft_airflow.connection import CraftConnectionConfig
from craft_airflow.errors import CraftConfigError, CraftInputError
from craft_airflow.protocol.outcomes import OutcomeStatus, WaitOutcome
from craft_airflow.routes import (
    EndpointRoute,
    RouteKind,
    SdkRoute,
    route_for,
    route_from_kwargs,
)

sys.path.insert(0, str(Path(__file__).parent / "operators"))
from craft_fakes import FakeHook


def config(**kwargs) -> CraftConnectionConfig:
    return CraftConnectionConfig(environment_url="https://env.example", conn_id="c", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "endpoint", "expected"),
    [
        ({"sdk_token": "sdk-secret"}, None, SdkRoute()),
        ({"sdk_token": "sdk-secret"}, "ep", SdkRoute("ep")),
        (
            {"sdk_token": "sdk-secret", "default_endpoint_token": "ep-secret"},
            "ep",
            SdkRoute("ep", start_with_endpoint_token=True),
        ),
        ({"endpoint_tokens": {"ep": "ep-secret"}}, "ep", EndpointRoute("ep")),
        ({"default_endpoint_token": "ep-secret"}, None, SdkRoute()),
    ],
)
def test_route_is_decided_from_the_connection_and_the_endpoint(kwargs, endpoint, expected):
    assert route_for(config(**kwargs), endpoint_name=endpoint) == expected


def test_an_endpoint_without_any_usable_token_is_a_config_error():
    with pytest.raises(CraftConfigError, match=r"no endpoint token for 'ep'.*has: other"):
        route_for(config(endpoint_tokens={"other": "x-secret"}), endpoint_name="ep")


@pytest.mark.parametrize("route", [SdkRoute("ep", "p"), EndpointRoute("ep", "p"), SdkRoute()])
def test_kwargs_round_trip_without_secrets(route):
    kwargs = route.to_kwargs()
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert set(kwargs) == {"kind", "endpoint_name", "endpoint_url_path"}
    rebuilt = route_from_kwargs(kwargs)
    assert (rebuilt.kind, rebuilt.endpoint_name, rebuilt.endpoint_url_path) == (
        route.kind,
        route.endpoint_name,
        route.endpoint_url_path,
    )


def test_unknown_kind_and_nameless_endpoint_route_are_rejected():
    with pytest.raises(CraftInputError, match="Unknown route kind 'jwt'"):
        route_from_kwargs({"kind": "jwt"})
    with pytest.raises(CraftInputError, match="endpoint_name"):
        route_from_kwargs({"kind": RouteKind.ENDPOINT})


def test_endpoint_route_has_no_status_call_or_logs_and_adopts_nothing():
    hook = FakeHook(config=config(default_endpoint_token="tok"))
    route = EndpointRoute("ep", "ep-path")
    assert route.check_once(hook, "x") is None
    assert route.logs_read("x") is None
    assert route.adoptable_status(hook, "x") == "Unknown"
    assert hook.calls == []


def test_sdk_route_check_once_reads_a_failure_log_tail_once():
    hook = FakeHook(statuses={"e": "Failed"}, logs=[{"message": f"l{i}"} for i in range(25)])
    outcome = SdkRoute().check_once(hook, "e")
    assert isinstance(outcome, WaitOutcome) and outcome.status == OutcomeStatus.FAILED
    assert outcome.log_tail[0] == "l5" and outcome.log_tail[-1] == "l24"
    assert len(hook.called("get_logs")) == 1
    hook.statuses["r"] = "Running"
    assert SdkRoute().check_once(hook, "r") is None
    assert len(hook.called("get_logs")) == 1


def test_sdk_route_triggers_with_the_credential_it_was_decided_with():
    hook = FakeHook()
    SdkRoute("ep", "p", start_with_endpoint_token=True).trigger_endpoint(
        hook, inputs={}, files=None
    )
    SdkRoute("ep").trigger_endpoint(hook, inputs={}, files=None)
    assert [name for name, _, _ in hook.calls] == ["trigger_endpoint", "trigger_deployment"]
