"""Secret hygiene: no token and no access token (JWT) ever lands in a log, the metadata DB, an
exception or the platform's log, and every token is registered with Airflow's secrets masker.

The test starts its own embedded platform with distinctive tokens (the SDK token; endpoint
tokens declared in a copy of the example declarations, one of them then rotated through the API;
a wrong endpoint token and a refused SDK token), then runs, in two child processes with their
own AIRFLOW_HOME (deferrable and worker-wait, side by side), every example DAG plus
``secret_hygiene_dag.py`` (endpoint-token-only route with redirects and file downloads, wrong
endpoint token, refused SDK token, unreachable platform, invalid input, wait timeout) through a
real Airflow. It also calls the hooks and the trigger directly into the same failures and keeps
every exception's text. Then it searches all of it for every token value and anything
JWT-shaped:

* the children's stdout/stderr (``dag.test()`` writes the task logs there, not to files), every
  file under each AIRFLOW_HOME (logs if any, stored outputs, the raw bytes of the metadata DB
  and its WAL);
* every text and blob column of every table of the metadata DB (XComs, rendered template
  fields, task instances and their ``next_kwargs``, dag runs, triggers, audit log ...), plus the
  trigger kwargs decrypted with Airflow's Fernet key;
* the platform's own log file;
* every exception text (``str``, ``repr``, formatted traceback, pickled form, causes and
  contexts) and trigger event of the direct calls, and what they logged.

Control assertions prove the search finds a planted token in each kind of place.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from secret_search import Corpus, exception_texts, hide

from craft_local.examples import EXAMPLE_PIPELINES
from craft_local.server import EmbeddedPlatform, free_port

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
EXAMPLE_DAGS = REPO_ROOT / "example_dags"
HYGIENE_DAG = HERE / "secret_hygiene_dag.py"
DRIVER = HERE / "hygiene_driver.py"
DRIVER_TIMEOUT = 420  # every example DAG but the event-driven ones, in one process

EXAMPLE_DAG_IDS = (
    "craft_asset_consumer",
    "craft_asset_producer",
    "craft_chain_file_outputs",
    "craft_failure_handling",
    "craft_mapped_runs",
    "craft_run_pipeline",
    "craft_run_then_sense",
    "craft_train_and_promote",
    "craft_trigger_endpoint",
)
DIRECT_CONNECTIONS = (
    "craft_ai_default",
    "craft_bad_sdk",
    "craft_wrong_endpoint",
    "craft_wrong_endpoint_with_sdk",
    "craft_unreachable",
    "craft_unreachable_endpoint_only",
    "craft_endpoint_only",
)
HYGIENE_SUCCEEDS = (
    "write_document",
    "endpoint_token_only",
    "endpoint_token_only_file",
    "endpoint_token_only_no_wait",
    "sensor_endpoint_token_only",
    "slow_endpoint_token_only",
)
HYGIENE_FAILS = (
    "wrong_endpoint_token",
    "endpoint_invalid_input",
    "bad_sdk_token",
    "unreachable_platform",
    "unreachable_endpoint",
    "slow_endpoint_wait_timeout",
)


def _hex() -> str:
    return secrets.token_hex(12)


# -- the platform and its tokens ----------------------------------------------------------


@dataclass(repr=False)  # a failing test prints its arguments: no secrets
class Tokens:
    sdk: str = field(default_factory=lambda: f"sdk-SECRET-{_hex()}")
    all_types: str = field(default_factory=lambda: f"ept-SECRET-alltypes-{_hex()}")
    word_count: str = field(default_factory=lambda: f"ept-SECRET-wordcount-{_hex()}")
    slow: str = field(default_factory=lambda: f"ept-SECRET-slow-{_hex()}")
    wrong_endpoint: str = field(default_factory=lambda: f"ept-WRONG-{_hex()}")
    bad_sdk: str = field(default_factory=lambda: f"sdk-WRONG-{_hex()}")
    issued_jwts: list[str] = field(default_factory=list)

    def all(self) -> dict[str, str]:
        values = {
            "SDK token": self.sdk,
            "all-types endpoint token": self.all_types,
            "word-count endpoint token": self.word_count,
            "slow endpoint token": self.slow,
            "wrong endpoint token": self.wrong_endpoint,
            "refused SDK token": self.bad_sdk,
        }
        values.update({f"issued JWT #{i}": jwt for i, jwt in enumerate(self.issued_jwts)})
        return values


def declarations_with_tokens(dest: Path, tokens: Tokens) -> Path:
    """A copy of the example declarations: the all-types endpoint's token replaced, and an
    endpoint on the slow pipeline (its results route answers "not yet" a few times)."""
    shutil.copytree(EXAMPLE_PIPELINES, dest, ignore=shutil.ignore_patterns("__pycache__"))
    path = dest / "all-types" / "pipeline.json"
    declared = json.loads(path.read_text())
    for deployment in declared["deployments"]:
        if deployment["name"] == "all-types-endpoint":
            deployment["endpoint_token"] = tokens.all_types
    path.write_text(json.dumps(declared))
    path = dest / "slow" / "pipeline.json"
    declared = json.loads(path.read_text())
    declared["deployments"] = [
        {"name": "slow-endpoint", "execution_rule": "endpoint", "endpoint_token": tokens.slow}
    ]
    path.write_text(json.dumps(declared))
    return dest


def rotate_endpoint_token(platform: EmbeddedPlatform, tokens: Tokens) -> None:
    """Give word-count-endpoint a distinctive token through the API (JWT kept as a secret)."""
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        answer = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens.sdk})
        answer.raise_for_status()
        jwt = answer.json()["access_token"]
        tokens.issued_jwts.append(jwt)
        answer = client.post(
            "/api/v1/endpoints/word-count-endpoint/generate-new-token",
            data={"endpoint_token": tokens.word_count},
            headers={"Authorization": f"Bearer {jwt}"},
        )
        answer.raise_for_status()
        deployment = client.get(
            "/api/v1/deployments/word-count-endpoint", headers={"Authorization": f"Bearer {jwt}"}
        ).json()
    assert deployment["endpoint_token"] == tokens.word_count


def connections(url: str, dead_url: str, tokens: Tokens) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` values: the example DAGs' default one and the hygiene DAG's."""
    fast_failure = {"max_retries": 1, "max_retry_seconds": 1, "request_timeout": 5}
    endpoint_tokens = {
        "all-types-endpoint": tokens.all_types,
        "word-count-endpoint": tokens.word_count,
        "slow-endpoint": tokens.slow,
    }
    specs: dict[str, dict[str, Any]] = {
        # As make demo: the SDK token, one endpoint token (word-count goes the SDK-token way).
        "craft_ai_default": {
            "host": url,
            "password": tokens.sdk,
            "extra": {
                "control_url": url,
                "endpoint_tokens": {"all-types-endpoint": tokens.all_types},
            },
        },
        "craft_endpoint_only": {"host": url, "extra": {"endpoint_tokens": endpoint_tokens}},
        "craft_wrong_endpoint": {"host": url, "extra": {"endpoint_token": tokens.wrong_endpoint}},
        "craft_wrong_endpoint_with_sdk": {
            "host": url,
            "password": tokens.sdk,
            "extra": {"control_url": url, "endpoint_token": tokens.wrong_endpoint},
        },
        "craft_bad_sdk": {"host": url, "password": tokens.bad_sdk, "extra": {"control_url": url}},
        "craft_unreachable": {
            "host": dead_url,
            "password": tokens.sdk,
            "extra": {"control_url": dead_url, "endpoint_tokens": endpoint_tokens, **fast_failure},
        },
        "craft_unreachable_endpoint_only": {
            "host": dead_url,
            "extra": {"endpoint_tokens": endpoint_tokens, **fast_failure},
        },
    }
    return {
        f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps({"conn_type": "craftai", **spec})
        for conn_id, spec in specs.items()
    }


@dataclass(repr=False)  # a failing test prints its arguments: no secrets
class Platform:
    platform: EmbeddedPlatform
    tokens: Tokens
    conn_env: dict[str, str]


@pytest.fixture(scope="module")
def hygiene_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    work = tmp_path_factory.mktemp("hygiene-platform")
    tokens = Tokens()
    pipelines = declarations_with_tokens(work / "pipelines", tokens)
    platform = EmbeddedPlatform(
        work / "data",
        sdk_token=tokens.sdk,
        pipelines_dir=pipelines,
        extra_args=["--long-poll-seconds", "1", "--max-concurrency", "8"],
    )
    with platform:
        rotate_endpoint_token(platform, tokens)
        dead_url = f"http://127.0.0.1:{free_port()}"
        yield Platform(platform, tokens, connections(platform.url, dead_url, tokens))


# -- the Airflow runs (child processes) ---------------------------------------------------


@dataclass(repr=False)  # a failing test prints its arguments: no secrets
class AirflowRun:
    mode: str
    home: Path
    output: Path
    result: dict[str, Any]


def start_driver(work: Path, mode: str, conn_env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    home = work / f"airflow-home-{mode}"
    dags = work / f"dags-{mode}"
    home.mkdir()
    dags.mkdir()
    for dag_file in [*EXAMPLE_DAGS.glob("*.py"), HYGIENE_DAG]:
        shutil.copy(dag_file, dags / dag_file.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CRAFT_"))}
    env.update(conn_env)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": str(mode == "deferrable"),
            # INFO, as make demo: at DEBUG, the in-process supervisor of Airflow 3.3's dag.test()
            # logs every MaskSecret message it relays, secret value included (Airflow's own
            # connection masking does it too). The hooks' DEBUG lines are checked in-process.
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    output = work / f"driver-{mode}.log"
    with output.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER), str(work / f"result-{mode}.json")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return proc, home


@dataclass(repr=False)  # a failing test prints its arguments: no secrets
class Children:
    """The two Airflow child processes, and what they left once finished."""

    work: Path
    started: dict[str, tuple[subprocess.Popen, Path]]
    tokens: dict[str, str]
    runs: list[AirflowRun] | None = None


@pytest.fixture(scope="module")
def airflow_children(
    hygiene_platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Children]:
    """Every DAG through a real Airflow, deferrable and worker-wait side by side (started here,
    waited for by ``airflow_runs``, so the direct calls run meanwhile)."""
    work = tmp_path_factory.mktemp("hygiene-airflow")
    started = {
        mode: start_driver(work, mode, hygiene_platform.conn_env)
        for mode in ("deferrable", "worker")
    }
    try:
        yield Children(work, started, hygiene_platform.tokens.all())
    finally:
        for proc, _ in started.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def airflow_runs(airflow_children: Children) -> list[AirflowRun]:
    if airflow_children.runs is None:
        runs = []
        for mode, (proc, home) in airflow_children.started.items():
            code = proc.wait(timeout=DRIVER_TIMEOUT)
            output = airflow_children.work / f"driver-{mode}.log"
            tail = hide(output.read_text()[-6000:], airflow_children.tokens)
            assert code == 0, f"{mode} driver exited {code}:\n{tail}"
            result = json.loads((airflow_children.work / f"result-{mode}.json").read_text())
            runs.append(AirflowRun(mode, home, output, result))
        airflow_children.runs = runs
    return airflow_children.runs


# -- direct calls into the same failures -----------------------------------------------------


@dataclass(repr=False)  # a failing test prints its arguments: no secrets
class DirectCalls:
    texts: list[tuple[str, str]]
    logged: str


def _collect(texts: list[tuple[str, str]], label: str, call: Callable[[], Any]) -> Any:
    """Run ``call``; keep its exception's texts (or its result's text) under ``label``."""
    try:
        result = call()
    except Exception as exc:
        texts += [(f"{label} raised {type(exc).__name__}", t) for t in exception_texts(exc)]
        return exc
    texts.append((f"{label} returned", repr(result)))
    return result


@pytest.fixture
def direct_calls(hygiene_platform: Platform, capfd: pytest.CaptureFixture[str]) -> DirectCalls:
    """The sync hook, the async hook and the trigger called into every failure; what they
    printed or logged (structlog writes to the standard streams, so ``capfd``)."""
    from craft_airflow.hooks.craft import CraftAIHook
    from craft_airflow.hooks.craft_async import CraftAIAsyncHook
    from craft_airflow.routes import route_for
    from craft_airflow.triggers.execution import CraftExecutionTrigger

    url = hygiene_platform.platform.url
    texts: list[tuple[str, str]] = []
    log_buffer = io.StringIO()
    handler = logging.StreamHandler(log_buffer)
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in hygiene_platform.conn_env.items():
            patch.setenv(name, value)
        try:
            sync_hooks = {c: CraftAIHook(c) for c in DIRECT_CONNECTIONS}
            file_url = (
                f"{url}/endpoints/v1/all-types-endpoint/executions/all-types-x/outputs/report"
            )
            for conn_id, hook in sync_hooks.items():
                calls: dict[str, Callable[[], Any]] = {
                    "test_connection": hook.test_connection,
                    "run_pipeline": lambda h=hook: h.run_pipeline(
                        "all-types", inputs={"text": "x"}
                    ),
                    "trigger_endpoint": lambda h=hook: h.trigger_endpoint(
                        "all-types-endpoint", inputs={"text": "x"}
                    ),
                    "trigger_endpoint_bad_input": lambda h=hook: h.trigger_endpoint(
                        "all-types-endpoint", inputs={"number": "x"}
                    ),
                    "get_execution": lambda h=hook: h.get_execution("all-types-unknown"),
                    "get_outputs": lambda h=hook: h.get_outputs("all-types-unknown"),
                    "endpoint_results": lambda h=hook: h.get_endpoint_results(
                        "all-types-endpoint",
                        "all-types-unknown",
                        endpoint_name="all-types-endpoint",
                    ),
                    "endpoint_file": lambda h=hook: h.download_endpoint_file(
                        file_url, io.BytesIO(), endpoint_name="all-types-endpoint"
                    ),
                    "endpoint_wait": lambda h=hook: route_for(
                        h.config, endpoint_name="all-types-endpoint"
                    ).wait(h, "all-types-unknown", timeout=3, poll_interval=0.5),
                }
                for call_name, call in calls.items():
                    _collect(texts, f"{conn_id} {call_name}", call)
                hook.close()

            # A failing pipeline, followed to its end.
            hook = sync_hooks["craft_ai_default"]
            execution_id = hook.run_pipeline("failing", inputs={"message": "boom"})
            event = hook.wait_for_outcome(execution_id, timeout=60, poll_interval=0.5)
            assert event.status == "failed", event
            texts.append(("failing pipeline event", json.dumps(event.to_event())))
            hook.close()

            # The endpoint results route answering "not yet" (307 to a URL with ?token=) until
            # the wait times out.
            hook = sync_hooks["craft_endpoint_only"]
            slow_id = hook.trigger_endpoint("slow-endpoint", inputs={"seconds": 3})
            event = route_for(hook.config, endpoint_name="slow-endpoint").wait(
                hook, slow_id, timeout=1.5, poll_interval=0.5
            )
            assert event.status == "timeout", event
            texts.append(("endpoint wait timeout event", json.dumps(event.to_event())))
            hook.close()

            async def follow_async() -> None:
                for conn_id, endpoint, followed in (
                    ("craft_endpoint_only", "slow-endpoint", slow_id),
                    ("craft_unreachable", None, execution_id),
                    ("craft_unreachable_endpoint_only", "all-types-endpoint", execution_id),
                    ("craft_wrong_endpoint", "all-types-endpoint", execution_id),
                    ("craft_bad_sdk", None, execution_id),
                    ("craft_ai_default", None, execution_id),
                ):
                    async_hook = CraftAIAsyncHook(conn_id)
                    try:
                        route = route_for(await async_hook.get_config(), endpoint_name=endpoint)
                        waited = await route.await_outcome(
                            async_hook, followed, timeout=1, poll_interval=0.5
                        )
                        texts.append((f"async {conn_id} event", json.dumps(waited.to_event())))
                    except Exception as exc:
                        texts.extend((f"async {conn_id}", t) for t in exception_texts(exc))
                    finally:
                        await async_hook.aclose()
                    kind = "endpoint" if endpoint else "sdk"
                    trigger = CraftExecutionTrigger(
                        followed,
                        conn_id,
                        end_time=time.time() + 1,
                        route={"kind": kind, "endpoint_name": endpoint},
                        poll_interval=0.5,
                    )
                    texts.append((f"trigger {conn_id} kwargs", repr(trigger.serialize())))
                    async for fired in trigger.run():
                        texts.append((f"trigger {conn_id} event", json.dumps(fired.payload)))

            asyncio.run(follow_async())
        finally:
            root.removeHandler(handler)
            root.setLevel(previous_level)
    printed = capfd.readouterr()
    return DirectCalls(texts, "\n".join((log_buffer.getvalue(), printed.out, printed.err)))


# -- the tests --------------------------------------------------------------------------------


def search_everything(
    platform: Platform, runs: list[AirflowRun], direct: DirectCalls
) -> tuple[Corpus, list[str]]:
    corpus = Corpus()
    for run in runs:
        corpus.add(f"[{run.mode}] child stdout/stderr", run.output.read_bytes())
        corpus.add_tree(f"[{run.mode}] AIRFLOW_HOME", run.home)
        corpus.add_database(f"[{run.mode}] metadata DB", run.home / "airflow.db")
        for kwargs in run.result["trigger_kwargs"]:
            corpus.add(f"[{run.mode}] decrypted trigger kwargs", kwargs)
    corpus.add("platform log", platform.platform.log_path.read_bytes())
    for where, text in direct.texts:
        corpus.add(f"direct call: {where}", text)
    corpus.add("direct calls' log records", direct.logged)
    return corpus, corpus.find(platform.tokens.all())


def test_no_token_or_jwt_anywhere(
    hygiene_platform: Platform,
    airflow_children: Children,
    direct_calls: DirectCalls,
    airflow_runs: list[AirflowRun],
) -> None:
    """Zero tokens and zero JWTs in everything the runs and the direct calls left behind.

    (Fixture order matters: the children start, the direct calls run, then the children are
    waited for.)
    """
    # The runs did what they should, so the places searched hold real content.
    for run in airflow_runs:
        assert run.result["import_errors"] == {}
        states = run.result["runs"]
        for dag_id in EXAMPLE_DAG_IDS:
            assert states[dag_id]["state"] == "success", (run.mode, dag_id, states[dag_id])
        assert states["craft_failure_handling"]["tasks"]["run_failing_pipeline"] == "failed"
        hygiene = states["craft_secret_hygiene"]["tasks"]
        for task_id in HYGIENE_SUCCEEDS:
            assert hygiene[task_id] == "success", (run.mode, task_id, hygiene)
        for task_id in HYGIENE_FAILS:
            assert hygiene[task_id] == "failed", (run.mode, task_id, hygiene)
        output = run.output.read_text(errors="replace")
        for expected in (
            "CraftAuthError",
            "CraftConnectionError",
            "CraftExecutionFailed",
            "CraftWaitTimeout",
        ):
            assert expected in output, (run.mode, expected)

    deferrable = next(run for run in airflow_runs if run.mode == "deferrable")
    assert deferrable.result["trigger_kwargs"], "no trigger row to search"
    # The direct calls went through the token-bearing routes and failures, and their DEBUG
    # records (request lines, redirects) were captured.
    direct = "\n".join(where for where, _ in direct_calls.texts)
    for expected in ("raised CraftAuthError", "raised CraftConnectionError", "trigger"):
        assert expected in direct, expected
    assert "token=***" in direct_calls.logged

    corpus, found = search_everything(hygiene_platform, airflow_runs, direct_calls)
    assert found == [], "\n".join(corpus.context(hygiene_platform.tokens.all()))


def test_search_finds_planted_secrets(
    hygiene_platform: Platform,
    airflow_runs: list[AirflowRun],
    tmp_path: Path,
) -> None:
    """Control: the same search finds a token or a JWT wherever one is planted."""
    tokens = hygiene_platform.tokens
    run = airflow_runs[0]

    in_env = Corpus()
    in_env.add("connection env", hygiene_platform.conn_env["AIRFLOW_CONN_CRAFT_AI_DEFAULT"])
    assert sorted(f.split(": ")[-1] for f in in_env.find(tokens.all())) == [
        "SDK token",
        "all-types endpoint token",
    ]

    db_copy = tmp_path / "airflow.db"
    with (
        sqlite3.connect(f"file:{run.home / 'airflow.db'}?mode=ro", uri=True) as source,
        sqlite3.connect(db_copy) as copy,
    ):
        source.backup(copy)
    with sqlite3.connect(db_copy) as db:
        assert db.execute("SELECT count(*) FROM xcom").fetchone()[0] > 0
        db.execute(
            "UPDATE xcom SET value = ? WHERE rowid = (SELECT min(rowid) FROM xcom)",
            (json.dumps({"leak": tokens.word_count}),),
        )
        db.execute(
            "UPDATE rendered_task_instance_fields SET rendered_fields = ? "
            "WHERE rowid = (SELECT min(rowid) FROM rendered_task_instance_fields)",
            (json.dumps({"inputs": {"t": tokens.issued_jwts[0]}}),),
        )
    planted = Corpus()
    planted.add_database("copy", db_copy)
    found = planted.find(tokens.all())
    assert "copy: xcom.value: word-count endpoint token" in found, found
    rendered = "copy: rendered_task_instance_fields.rendered_fields"
    assert f"{rendered}: issued JWT #0" in found, found
    assert any("JWT eyJ" in f for f in found)

    tree = tmp_path / "home"
    shutil.copytree(run.home, tree, ignore=shutil.ignore_patterns("*.db"))
    (tree / "logs").mkdir(exist_ok=True)
    (tree / "logs" / "task.log").write_text(f"GET /x?token={tokens.sdk} eyJa.eyJb.c\n")
    planted = Corpus()
    planted.add_tree("copy", tree)
    assert planted.find({"SDK token": tokens.sdk}) == [
        "copy/logs/task.log: SDK token",
        "copy/logs/task.log: JWT eyJa.eyJb.c...",
    ]

    error = RuntimeError("outer")
    error.__context__ = ValueError(f"Bearer {tokens.issued_jwts[0]}")
    planted = Corpus()
    for text in exception_texts(error):
        planted.add("exception", text)
    assert "exception: issued JWT #0" in planted.find(tokens.all())


@pytest.fixture
def saved_masker() -> Iterator[None]:
    """The masker's patterns are restored afterwards: these tests empty it, the rest of the
    session may rely on what earlier hooks registered."""
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    masker = _secrets_masker()
    patterns, replacer = set(masker.patterns), masker.replacer
    try:
        yield
    finally:
        masker.patterns, masker.replacer = patterns, replacer


@pytest.mark.usefixtures("saved_masker")
def test_tokens_are_registered_with_the_secrets_masker(
    hygiene_platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building a hook's configuration (sync or async) makes the masker redact every token.

    This is the masker Airflow's task logs go through (``airflow.sdk.log.mask_logs``)."""
    from airflow.sdk._shared.secrets_masker import redact, reset_secrets_masker

    from craft_airflow.hooks.craft import CraftAIHook
    from craft_airflow.hooks.craft_async import CraftAIAsyncHook

    tokens = hygiene_platform.tokens
    for name, value in hygiene_platform.conn_env.items():
        monkeypatch.setenv(name, value)
    expected = {
        "craft_ai_default": (tokens.sdk, tokens.all_types),
        "craft_endpoint_only": (tokens.all_types, tokens.word_count, tokens.slow),
        "craft_wrong_endpoint": (tokens.wrong_endpoint,),
        "craft_bad_sdk": (tokens.bad_sdk,),
    }
    for conn_id, values in expected.items():
        for build in ("sync", "async"):
            reset_secrets_masker()
            line = " ".join(f"token={v} Authorization: EndpointToken {v}" for v in values)
            assert redact(line) == line  # nothing registered yet
            if build == "sync":
                CraftAIHook(conn_id).config  # noqa: B018
            else:
                asyncio.run(CraftAIAsyncHook(conn_id).get_config())
            redacted = redact(line)
            assert all(v not in redacted for v in values), (conn_id, build, redacted)
            assert redacted.count("***") == 2 * len(values)


@pytest.mark.usefixtures("saved_masker")
def test_the_config_parser_itself_registers_every_token(hygiene_platform: Platform) -> None:
    """Not Airflow's own connection masking: a bare ``Connection`` (which masks nothing) goes
    through :func:`from_connection` (sync) or ``amask_secrets`` (async) and its tokens are
    masked."""
    from airflow.sdk import Connection
    from airflow.sdk._shared.secrets_masker import redact, reset_secrets_masker

    from craft_airflow.connection import amask_secrets, from_connection

    tokens = hygiene_platform.tokens
    values = (tokens.sdk, tokens.all_types, tokens.word_count, tokens.slow)
    conn = Connection(
        conn_id="bare",
        conn_type="craftai",
        host=hygiene_platform.platform.url,
        password=tokens.sdk,
        extra=json.dumps(
            {
                "endpoint_token": tokens.slow,
                "endpoint_tokens": {"a": tokens.all_types, "b": tokens.word_count},
            }
        ),
    )
    line = " | ".join(values)
    for build in ("sync", "async"):
        reset_secrets_masker()
        assert redact(line) == line
        if build == "sync":
            from_connection(conn)
        else:
            asyncio.run(amask_secrets(from_connection(conn, mask=False)))
        assert redact(line) == " | ".join(["***"] * len(values)), build
