"""craft_airflow.protocol.adoption: finding the execution a creation made."""

from __future__ import annotations

import dataclasses
import json

import pytest
from protocol_kit import CONFIG, answer, context, drive, token_answer

from craft_airflow.errors import CraftAmbiguousCreation
from craft_airflow.protocol.adoption import (
    RECHECK_DELAYS,
    CreationIntent,
    adopt,
    digests_match,
    find_earlier_creation,
    input_digests,
    inputs_match,
    recent_candidates,
)
from craft_airflow.protocol.http import Send, Sleep


def test_recent_candidates_window_and_deployment_filter():
    since = 1_800_000_000.0
    executions = [
        {"execution_id": "old", "created_at": "2027-01-15T07:59:00Z"},
        {"execution_id": "skewed", "created_at": "2027-01-15T07:59:50Z", "deployment_name": "d"},
        {"execution_id": "new", "created_at": "2027-01-15T08:00:05.123Z", "deployment_name": "d"},
        {"execution_id": "nodate"},
        {"execution_id": "other-dep", "created_at": "2027-01-15T08:00:05Z", "deployment_name": "x"},
    ]
    assert since == 1_800_000_000.0  # 2027-01-15T08:00:00Z
    assert recent_candidates(executions, since=since) == ["skewed", "new", "nodate", "other-dep"]
    assert recent_candidates(executions, since=since, deployment_name="d") == ["skewed", "new"]


def test_inputs_match():
    execution = {
        "inputs": [
            {"pipeline_input_name": "n", "value": 3},
            {"pipeline_input_name": "j", "value": {"b": [1, 2], "a": None}},
            {
                "pipeline_input_name": "renamed",
                "mapping_value": {"endpoint_input_name": "q"},
                "value": "x",
            },
            {"pipeline_input_name": "doc", "data_type": "file"},
        ]
    }
    assert inputs_match(execution, {"n": 3, "j": {"a": None, "b": [1, 2]}})
    assert not inputs_match(execution, {"n": 4})
    assert not inputs_match(execution, {"doc": "x"})  # no value shown: no proof
    assert inputs_match(execution, {"q": "x"}, by="endpoint")
    assert not inputs_match(execution, {"q": "x"}, by="pipeline")
    assert inputs_match({"inputs": []}, {})
    # The same comparison on digests (what an intent record keeps): equal JSON, equal digest.
    assert digests_match(execution, input_digests({"j": {"b": [1, 2], "a": None}}))
    assert not digests_match(execution, input_digests({"n": "3"}))
    assert digests_match(execution, input_digests({"n": 3.0}))  # the platform may show 3 for 3.0
    assert inputs_match(
        {"inputs": [{"name": "x", "value": [1.0, {"y": 2.5}]}]}, {"x": [1, {"y": 2.5}]}
    )


# -- the search, driven by hand: what it reads, and what it costs --------------------------------

SINCE = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def platform_answers(executions: dict[str, dict], *, listed: list[dict] | None = None):
    """A responder: the token, the pipeline's list, each execution with its inputs."""

    def respond(send):
        url = send.request.url
        if url.endswith("/auth/refresh"):
            return token_answer()
        if url.endswith("/executions"):
            rows = (
                listed
                if listed is not None
                else [
                    {"execution_id": i, "created_at": "2027-01-15T08:00:01Z", "status": "Running"}
                    for i in executions
                ]
            )
            return answer(200, json.dumps(rows).encode())
        execution_id = url.split("/executions/")[1].split("?")[0]
        return answer(200, json.dumps(executions[execution_id]).encode())

    return respond


def execution_with(n: int) -> dict:
    return {"inputs": [{"pipeline_input_name": "n", "value": n}]}


def calls(sent) -> list[str]:
    return [s.request.url.split("/api/v1")[-1] for s in sent if isinstance(s, Send)][1:]


def test_find_earlier_creation_adopts_the_one_match():
    ctx, clock = context()
    executions = {f"p-{n}": execution_with(n) for n in range(5)}
    intent = CreationIntent("run", pipeline_name="p", inputs={"n": 3})
    found, sent = drive(
        find_earlier_creation(ctx, intent, since=SINCE), platform_answers(executions), clock
    )
    assert found == "p-3"
    # One list call, then one read per candidate: the contract lists no inputs and no filters.
    assert calls(sent) == [
        "/pipelines/p/executions",
        *[f"/executions/p-{n}" for n in range(5)],
    ]


def test_a_burst_of_other_executions_is_read_through_not_refused():
    """100 executions of other tasks created since the dead try's intent (a mapped burst): each is
    read, none matches, the retry creates (the chaos suite found a cap here that failed the
    task on every retry)."""
    ctx, clock = context()
    executions = {f"p-{n}": execution_with(n) for n in range(100)}
    intent = CreationIntent("run", pipeline_name="p", inputs={"n": 1000})
    found, sent = drive(
        find_earlier_creation(ctx, intent, since=SINCE), platform_answers(executions), clock
    )
    assert found is None
    assert len(calls(sent)) == 1 + 100


def test_find_earlier_creation_compares_only_the_digests_a_record_kept():
    ctx, clock = context()
    recorded = CreationIntent("run", pipeline_name="p", digests=input_digests({"n": 1}))
    found, _ = drive(
        find_earlier_creation(ctx, recorded, since=SINCE),
        platform_answers({"a": execution_with(2), "b": execution_with(1)}),
        clock,
    )
    assert found == "b"


def test_find_earlier_creation_none_means_create_and_several_name_them():
    ctx, clock = context()
    intent = CreationIntent("run", pipeline_name="p", inputs={"n": 9})
    found, sent = drive(
        find_earlier_creation(ctx, intent, since=SINCE),
        platform_answers({"a": execution_with(1)}),
        clock,
    )
    assert found is None
    assert not any(isinstance(s, Sleep) for s in sent)  # one round: no re-check for a retry
    with pytest.raises(CraftAmbiguousCreation) as err:
        drive(
            find_earlier_creation(ctx, intent, since=SINCE),
            platform_answers({"a": execution_with(9), "b": execution_with(9)}),
            clock,
        )
    assert err.value.candidates == ["a", "b"]
    assert "a, b" in str(err.value)  # the Airflow advice is the journal's: tests/test_journal.py


def test_find_earlier_creation_does_not_follow_a_failed_match():
    ctx, clock = context()
    intent = CreationIntent("run", pipeline_name="p", inputs={"n": 1})
    listed = [
        {"execution_id": "failed", "created_at": "2027-01-15T08:00:01Z", "status": "Failed"},
        {"execution_id": "live", "created_at": "2027-01-15T08:00:02Z", "status": "Running"},
    ]
    executions = {"failed": execution_with(1), "live": execution_with(1)}
    found, _ = drive(
        find_earlier_creation(ctx, intent, since=SINCE),
        platform_answers(executions, listed=listed),
        clock,
    )
    assert found == "live"  # the failed twin is no reason to refuse
    found, _ = drive(
        find_earlier_creation(ctx, intent, since=SINCE),
        platform_answers(executions, listed=listed[:1]),
        clock,
    )
    assert found is None  # a new execution, as after any failed try


def test_find_earlier_creation_ignores_executions_older_than_the_intent():
    ctx, clock = context()
    listed = [
        {"execution_id": "old", "created_at": "2027-01-15T07:59:00Z"},
        {"execution_id": "new", "created_at": "2027-01-15T08:00:02Z", "status": "Pending"},
    ]
    executions = {"old": execution_with(1), "new": execution_with(1)}
    intent = CreationIntent("run", pipeline_name="p", inputs={"n": 1})
    found, sent = drive(
        find_earlier_creation(ctx, intent, since=SINCE),
        platform_answers(executions, listed=listed),
        clock,
    )
    assert found == "new"
    assert "/executions/old" not in calls(sent)


def test_with_only_an_endpoint_token_nothing_is_listed():
    config = dataclasses.replace(CONFIG, sdk_token=None)
    ctx, clock = context(config)
    intent = CreationIntent("endpoint", deployment_name="e", inputs={"n": 1})
    found, sent = drive(find_earlier_creation(ctx, intent, since=SINCE), None, clock)
    assert found is None and sent == []
    with pytest.raises(CraftAmbiguousCreation, match="only an endpoint token"):
        drive(adopt(ctx, intent, since=SINCE), None, clock)


def test_an_endpoint_triggered_with_its_token_is_looked_for_with_the_sdk_token():
    ctx, clock = context()
    intent = CreationIntent("endpoint", deployment_name="e", inputs={"q": "x"})
    listed = [
        {"execution_id": "mine", "created_at": "2027-01-15T08:00:02Z", "deployment_name": "e"},
        {"execution_id": "other", "created_at": "2027-01-15T08:00:02Z", "deployment_name": "f"},
    ]
    executions = {
        "mine": {"inputs": [{"mapping_value": {"endpoint_input_name": "q"}, "value": "x"}]}
    }

    def respond(send):
        if send.request.url.endswith("/deployments/e"):
            return answer(200, json.dumps({"pipeline": {"name": "p"}}).encode())
        return platform_answers(executions, listed=listed)(send)

    found, sent = drive(find_earlier_creation(ctx, intent, since=SINCE), respond, clock)
    assert found == "mine"
    assert calls(sent) == [
        "/deployments/e",
        "/pipelines/p/executions",
        "/executions/mine",
    ]


def test_the_ambiguous_search_reads_each_candidate_once_across_its_rounds():
    """The cost after an ambiguous create that made nothing: before, each of the 3 rounds read
    every candidate again (3 lists + 3 x N reads); now 3 lists + N reads."""
    ctx, clock = context()
    n = 14
    executions = {f"p-{i}": execution_with(i) for i in range(n)}
    intent = CreationIntent("run", pipeline_name="p", inputs={"n": -1})
    counted: list[str] = []  # drive() loses what was sent when the generator raises
    responder = platform_answers(executions)

    def counting(send):
        counted.append(send.request.url)
        return responder(send)

    with pytest.raises(CraftAmbiguousCreation):
        drive(adopt(ctx, intent, since=SINCE), counting, clock)
    lists = [u for u in counted if u.endswith("/executions")]
    reads = [u for u in counted if "/api/v1/executions/" in u]
    assert (len(lists), len(reads)) == (1 + len(RECHECK_DELAYS), n)


def test_the_ambiguous_search_adopts_a_late_listed_execution_in_a_later_round():
    ctx, clock = context()
    rounds = iter([[], [{"execution_id": "late", "created_at": "2027-01-15T08:00:03Z"}]])
    current: list[list[dict]] = [[]]

    def respond(send):
        if send.request.url.endswith("/executions"):
            current[0] = next(rounds)
        return platform_answers({"late": execution_with(5)}, listed=current[0])(send)

    intent = CreationIntent("run", pipeline_name="p", inputs={"n": 5})
    found, _ = drive(adopt(ctx, intent, since=SINCE), respond, clock)
    assert found == "late"
