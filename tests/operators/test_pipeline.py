"""CraftRunPipelineOperator: arguments, submission, the one finish path, deferral, retries."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowSkipException, TaskDeferred
from airflow.sdk import ObjectStoragePath
from airflow_compat import RESUMABLE, serialization_round_trip
from craft_fakes import FakeHook, FakeStateStore, FakeTaskInstance, make_context, use_hook

from craft_airflow.errors import CraftError, CraftExecutionFailed, CraftInputError, CraftWaitTimeout
from craft_airflow.inputs.mappings import InputSource
from craft_airflow.operators.pipeline import CraftRunPipelineOperator
from craft_airflow.protocol.outcomes import OutcomeStatus, WaitOutcome
from craft_airflow.protocol.statuses import ExecutionStatus
from craft_airflow.triggers.execution import CraftExecutionTrigger

PIPELINE = {
    "parameters": {
        "pipeline_name": "all-types",
        "inputs": [
            {"name": "text", "data_type": "string", "is_required": True},
            {"name": "number", "data_type": "number"},
            {"name": "document", "data_type": "file"},
        ],
        "outputs": [
            {"name": "text", "data_type": "string"},
            {"name": "report", "data_type": "file"},
        ],
    }
}
OUTPUT_ITEMS = [
    {"pipeline_output_name": "text", "data_type": "string", "mapping_type": "run", "value": "HI"},
    {"pipeline_output_name": "report", "data_type": "file", "mapping_type": "run"},
]


def operator(**kwargs) -> CraftRunPipelineOperator:
    kwargs.setdefault("task_id", "run")
    kwargs.setdefault("pipeline_name", "all-types")
    return CraftRunPipelineOperator(**kwargs)


def event(status: str, execution_status: str | None = None, message: str = "") -> dict:
    return {
        "status": status,
        "execution_id": "all-types-1",
        "execution_status": execution_status,
        "message": message,
        "log_tail": [],
    }


# -- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", None])
def test_rejects_an_empty_pipeline_name(name):
    with pytest.raises(ValueError, match="pipeline_name"):
        operator(pipeline_name=name)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout": -1}, "timeout"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"timeout": "soon"}, "timeout"),
    ],
)
def test_rejects_bad_wait_arguments(kwargs, field):
    with pytest.raises(ValueError, match=field):
        operator(**kwargs)


def test_accepts_timedeltas():
    op = operator(timeout=timedelta(minutes=2), poll_interval=timedelta(seconds=3))
    assert (op.timeout, op.poll_interval) == (120.0, 3.0)


def test_template_fields_and_renderers():
    assert {"pipeline_name", "inputs", "inputs_mapping", "outputs_mapping"} <= set(
        CraftRunPipelineOperator.template_fields
    )
    assert not [f for f in CraftRunPipelineOperator.template_fields if "token" in f]
    assert CraftRunPipelineOperator.template_fields_renderers["inputs"] == "json"
    assert CraftRunPipelineOperator.template_fields_renderers["inputs_mapping"] == "json"


def test_defaults():
    op = operator()
    assert op.craft_conn_id == "craft_ai_default"
    assert op.wait_for_completion is True
    assert op.deferrable is False  # [operators] default_deferrable is unset in the tests
    assert [link.name for link in op.operator_extra_links] == ["Craft AI execution"]


def test_importing_the_operators_is_cheap():
    """Neither requests, aiohttp, nor the hooks, nor the trigger, nor the protocol's calls are
    imported with the operators: of ``protocol/`` only the statuses, the wait's outcome and the
    connection settings' type.

    httpx is imported by ``airflow.sdk`` itself, so it is compared against that baseline.
    """
    code = (
        "import sys\n"
        "import airflow.sdk\n"
        "from airflow.sdk import BaseOperator, BaseSensorOperator, ObjectStoragePath\n"
        "before = set(sys.modules)\n"
        "import craft_airflow.operators.pipeline, craft_airflow.operators.endpoint\n"
        "import craft_airflow.sensors.execution\n"
        "new = set(sys.modules) - before\n"
        "bad = sorted(m for m in new\n"
        "             if m.split('.')[0] in ('requests', 'httpx', 'urllib3', 'aiohttp')\n"
        "             or m.startswith(('craft_airflow.hooks', 'craft_airflow.triggers',\n"
        "                              'craft_airflow.protocol.'))\n"
        "             and m not in ('craft_airflow.protocol.statuses',\n"
        "                           'craft_airflow.protocol.outcomes',\n"
        "                           'craft_airflow.protocol.config'))\n"
        "print('RESULT', 'requests' in sys.modules, bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    assert "RESULT False []" in result.stdout.splitlines(), result.stdout
    assert "craft_airflow.operators.pipeline" in result.stderr  # importtime saw the import


# -- submission ------------------------------------------------------------------------------


def test_submit_validates_and_streams_file_inputs(tmp_path: Path):
    document = tmp_path / "doc.txt"
    document.write_bytes(b"file body")
    op = operator(
        inputs={"text": "hi", "number": 2, "document": str(document)},
        outputs_mapping=[{"pipeline_output_name": "report", "is_null": True}],
        wait_for_completion=False,
    )
    hook = use_hook(op, FakeHook(pipeline=PIPELINE))
    ti = FakeTaskInstance()

    result = op.execute(make_context(ti))

    ((args, kwargs),) = hook.called("run_pipeline")
    assert args == ("all-types",)
    assert kwargs["inputs"] == {"text": "hi", "number": 2}
    assert kwargs["outputs_mapping"] == [{"pipeline_output_name": "report", "is_null": True}]
    filename, body, stream = hook.sent_files["document"]
    assert (filename, body) == ("doc.txt", b"file body")
    assert getattr(stream, "name", None) == str(document)  # the file itself, not a copy
    assert stream.closed  # closed once the request is sent
    assert result == "all-types-1"
    assert ti.xcoms["execution_id"] == "all-types-1"
    assert ti.xcoms["_link_CraftExecutionLink"] == "https://ui.example/executions/all-types-1"
    assert not hook.called("wait_for_outcome")


def test_inputs_are_checked_before_anything_runs():
    op = operator(inputs={"text": "hi", "unknown": 1})
    hook = use_hook(op, FakeHook(pipeline=PIPELINE))
    with pytest.raises(CraftInputError, match=r"'unknown'.*declared: document, number, text"):
        op.execute(make_context())
    assert not hook.called("run_pipeline")


def test_mapping_objects_and_dicts_are_sent_in_wire_form():
    op = operator(
        inputs={"text": "x"},
        inputs_mapping=[InputSource(pipeline_input_name="number", environment_variable_name="N")],
        wait_for_completion=False,
    )
    hook = use_hook(op, FakeHook(pipeline=PIPELINE))
    op.execute(make_context())
    ((_, kwargs),) = hook.called("run_pipeline")
    assert kwargs["inputs_mapping"] == [
        {"pipeline_input_name": "number", "environment_variable_name": "N"}
    ]


# -- waiting -------------------------------------------------------------------------------


def test_finished_already_returns_outputs_without_deferring(capfd):
    op = operator(inputs={"text": "hi"}, deferrable=True)
    hook = use_hook(
        op,
        FakeHook(
            pipeline=PIPELINE,
            outputs=OUTPUT_ITEMS,
            files={"report": b"the report"},
            logs=[{"timestamp": "t1", "message": "working"}],
        ),
    )
    hook.statuses["all-types-1"] = "Succeeded"
    ti = FakeTaskInstance(dag_id="d", run_id="r:1", task_id="t")

    result = op.execute(make_context(ti))

    assert result["text"] == "HI"
    stored = ObjectStoragePath(result["report"])
    assert stored.read_bytes() == b"the report"
    assert result["report"].startswith("file://")
    assert result["report"].endswith("/craft_outputs/d/r_1/t/all-types-1/report")
    assert "[craft] t1 working" in capfd.readouterr().out
    assert not hook.called("wait_for_outcome")


def test_running_execution_defers_to_the_shared_trigger():
    op = operator(inputs={"text": "hi"}, deferrable=True, timeout=60, poll_interval=2)
    use_hook(op, FakeHook(pipeline=PIPELINE))
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, CraftExecutionTrigger)
    assert deferred.value.method_name == "execute_complete"
    _, kwargs = trigger.serialize()
    assert kwargs["execution_id"] == "all-types-1"
    assert kwargs["conn_id"] == "craft_ai_default"
    assert kwargs["end_time"] is not None
    assert kwargs["poll_interval"] == 2
    # For the line a kill logs on the triggerer (on_kill).
    assert kwargs["execution_url"] == "https://ui.example/executions/all-types-1"


def test_running_execution_waits_in_the_worker_when_not_deferrable():
    op = operator(inputs={"text": "hi"}, timeout=30)
    hook = use_hook(
        op,
        FakeHook(
            pipeline=PIPELINE,
            outputs=OUTPUT_ITEMS[:1],
            wait_event=WaitOutcome(
                OutcomeStatus.SUCCESS, "all-types-1", ExecutionStatus.SUCCEEDED, "ok"
            ),
        ),
    )
    assert op.execute(make_context()) == {"text": "HI"}
    ((args, kwargs),) = hook.called("wait_for_outcome")
    assert args == ("all-types-1",)
    assert kwargs["timeout"] == 30
    assert not hook.called("wait_for_endpoint_outcome")


# -- execute_complete: the one finish path ---------------------------------------------------


def test_execute_complete_success_returns_outputs():
    op = operator()
    use_hook(op, FakeHook(outputs=OUTPUT_ITEMS, files={"report": b"abc"}))
    result = op.execute_complete(make_context(), event("success", "Succeeded"))
    assert result["text"] == "HI"
    assert ObjectStoragePath(result["report"]).read_bytes() == b"abc"


def test_execute_complete_failed_raises_with_message_and_last_log_lines(capfd):
    op = operator()
    logs = [{"timestamp": f"t{i}", "message": f"line {i}"} for i in range(30)]
    hook = use_hook(op, FakeHook(logs=logs))
    # The trigger read the logs once and sent their tail with the event.
    tail = WaitOutcome(OutcomeStatus.FAILED, "all-types-1").with_log_tail(logs).log_tail
    with pytest.raises(CraftExecutionFailed) as failed:
        op.execute_complete(
            make_context(),
            {**event("failed", "Failed", "ValueError: boom"), "log_tail": list(tail)},
        )
    text = str(failed.value)
    assert isinstance(failed.value, AirflowException)
    assert text.startswith("ValueError: boom")
    assert "Last log lines:" in text
    assert "line 10" in text and "line 29" in text and "line 9\n" not in text
    assert text.count("line 29") == 1
    assert failed.value.status == "Failed"
    assert not hook.called("get_logs")  # one logs call per failure: the wait's
    assert "[craft] line 29" in capfd.readouterr().out


def test_already_failed_execution_reads_its_logs_once():
    op = operator(inputs={"text": "hi"})
    logs = [{"timestamp": "t", "message": "about to fail"}]
    hook = use_hook(op, FakeHook(pipeline=PIPELINE, logs=logs))
    hook.statuses["all-types-1"] = "Failed"
    with pytest.raises(CraftExecutionFailed, match="about to fail"):
        op.execute(make_context())
    assert len(hook.called("get_logs")) == 1


def test_execute_complete_timeout_raises_wait_timeout():
    op = operator()
    use_hook(op, FakeHook())
    with pytest.raises(CraftWaitTimeout, match="keeps running"):
        op.execute_complete(make_context(), event("timeout", None, "Timed out; it keeps running"))


def test_execute_complete_skipped_skips():
    op = operator()
    use_hook(op, FakeHook())
    with pytest.raises(AirflowSkipException):
        op.execute_complete(make_context(), event("skipped", "Skipped", "skipped"))


def test_execute_complete_error_raises_craft_error():
    op = operator()
    use_hook(op, FakeHook())
    with pytest.raises(CraftError, match="unreachable"):
        op.execute_complete(make_context(), event("error", None, "platform unreachable"))


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {"status": "finished", "execution_id": "x"},
        {"status": "success"},
        {"status": "success", "execution_id": "x", "execution_status": "Done"},
    ],
)
def test_execute_complete_rejects_events_outside_the_closed_set(bad):
    op = operator()
    hook = use_hook(op, FakeHook())
    with pytest.raises(CraftError, match="Invalid event"):
        op.execute_complete(make_context(), bad)
    assert not hook.calls


# -- retries re-attach (ResumableJobMixin) ---------------------------------------------------
# Airflow 3.3+ re-attaches a retry to the execution of an earlier try (kept in task_state_store);
# below 3.3 the compat stand-in starts a new execution on every try and keeps nothing.

EARLIER = "all-types-7"  # the execution of an earlier try; FakeHook numbers new ones all-types-1…


def assert_the_retry_started_its_own_execution(
    hook: FakeHook, ti: FakeTaskInstance, store: FakeStateStore
) -> None:
    """Airflow < 3.3: one new execution, announced; the earlier one and the store untouched."""
    assert not RESUMABLE
    assert len(hook.called("run_pipeline")) == 1
    assert ti.xcoms["execution_id"] == "all-types-1"
    assert not [call for call in hook.calls if EARLIER in call[1]], hook.calls
    assert store == {"craft_execution_id": EARLIER}


def test_retry_follows_the_running_execution_of_an_earlier_try():
    op = operator(inputs={"text": "hi"})
    followed = EARLIER if RESUMABLE else "all-types-1"
    hook = use_hook(
        op,
        FakeHook(
            pipeline=PIPELINE,
            statuses={EARLIER: "Running"},
            outputs=OUTPUT_ITEMS[:1],
            wait_event=WaitOutcome(
                OutcomeStatus.SUCCESS, followed, ExecutionStatus.SUCCEEDED, "ok"
            ),
        ),
    )
    store = FakeStateStore(craft_execution_id=EARLIER)
    ti = FakeTaskInstance(try_number=2)

    assert op.execute(make_context(ti, store)) == {"text": "HI"}
    assert hook.called("wait_for_outcome")[0][0] == (followed,)
    if RESUMABLE:
        assert not hook.called("run_pipeline")
        assert ti.xcoms["execution_id"] == EARLIER
    else:
        assert_the_retry_started_its_own_execution(hook, ti, store)


def test_retry_collects_the_outputs_of_an_earlier_try_that_succeeded():
    op = operator(inputs={"text": "hi"})
    hook = use_hook(
        op,
        FakeHook(
            pipeline=PIPELINE,
            statuses={EARLIER: "Succeeded"},
            outputs=OUTPUT_ITEMS[:1],
            # Only a new execution is waited for (Airflow < 3.3).
            wait_event=WaitOutcome(
                OutcomeStatus.SUCCESS, "all-types-1", ExecutionStatus.SUCCEEDED, "ok"
            ),
        ),
    )
    store = FakeStateStore(craft_execution_id=EARLIER)
    ti = FakeTaskInstance(try_number=2)

    assert op.execute(make_context(ti, store)) == {"text": "HI"}
    if RESUMABLE:
        assert not hook.called("run_pipeline")
        assert not hook.called("wait_for_outcome")
        assert hook.called("get_outputs")[0][0] == (EARLIER,)
        assert ti.xcoms["execution_id"] == EARLIER
    else:
        assert_the_retry_started_its_own_execution(hook, ti, store)


def test_retry_after_a_failed_execution_starts_a_new_one():
    op = operator(inputs={"text": "hi"}, wait_for_completion=False)
    hook = use_hook(op, FakeHook(pipeline=PIPELINE, statuses={EARLIER: "Failed"}))
    store = FakeStateStore(craft_execution_id=EARLIER)
    ti = FakeTaskInstance(try_number=2)

    assert op.execute(make_context(ti, store)) == "all-types-1"
    if RESUMABLE:
        assert len(hook.called("run_pipeline")) == 1
        assert store["craft_execution_id"] == "all-types-1"  # for the next retry
    else:
        assert_the_retry_started_its_own_execution(hook, ti, store)


def test_what_a_deferring_try_leaves_for_a_retry():
    op = operator(inputs={"text": "hi"}, deferrable=True)
    use_hook(op, FakeHook(pipeline=PIPELINE))
    store = FakeStateStore()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context(store=store))
    assert deferred.value.trigger.serialize()[1]["execution_id"] == "all-types-1"
    # Airflow 3.3+: the id is kept before deferring; below 3.3 there is nowhere to keep it.
    assert store == ({"craft_execution_id": "all-types-1"} if RESUMABLE else {})


# -- on_kill ---------------------------------------------------------------------------------


def test_on_kill_says_the_execution_keeps_running(capfd):
    op = operator(inputs={"text": "hi"}, wait_for_completion=False)
    use_hook(op, FakeHook(pipeline=PIPELINE))
    op.execute(make_context())
    op.on_kill()
    out = capfd.readouterr().out
    assert "no call to cancel" in out
    assert "all-types-1" in out and "https://ui.example/executions/all-types-1" in out


def test_dag_with_mapping_objects_and_mapped_inputs_serialises():
    from airflow.sdk import DAG

    with DAG("serialise_me", schedule=None) as dag:
        operator(
            task_id="with_objects",
            inputs={"text": "{{ run_id }}"},
            inputs_mapping=[InputSource(pipeline_input_name="number", constant_value=3)],
        )
        CraftRunPipelineOperator.partial(task_id="mapped", pipeline_name="all-types").expand(
            inputs=[{"text": "a"}, {"text": "b"}]
        )
    restored = serialization_round_trip(dag)
    assert set(restored.task_dict) == {"with_objects", "mapped"}


def test_retry_after_the_earlier_execution_was_deleted_starts_a_new_one():
    from craft_airflow.errors import CraftAPIError

    op = operator(inputs={"text": "hi"}, wait_for_completion=False)
    hook = use_hook(op, FakeHook(pipeline=PIPELINE))

    def gone(execution_id, include_io_values=False):
        raise CraftAPIError(404, f"Execution {execution_id} not found")

    hook.get_execution = gone  # type: ignore[method-assign]
    store = FakeStateStore(craft_execution_id=EARLIER)
    ti = FakeTaskInstance(try_number=2)
    assert op.execute(make_context(ti, store)) == "all-types-1"
    if RESUMABLE:
        assert store["craft_execution_id"] == "all-types-1"
    else:
        assert_the_retry_started_its_own_execution(hook, ti, store)
