"""``--runtime kubernetes`` end to end: each execution a Job on the real cluster."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conditions import wait_until
from kube_kit import Cluster
from platform_kit import TOKEN, Api, create_pipeline

from craft_local.server import EmbeddedPlatform

PROBE = """
import os
from pathlib import Path


def main(data_dir):
    environs = []
    for path in Path("/proc").glob("[0-9]*/environ"):
        try:
            environs.append(path.read_bytes().decode("utf-8", "replace"))
        except OSError:
            pass
    files = []
    for root in ("/craft", "/tmp", "/root", "/var/run/secrets"):
        for path in Path(root).rglob("*"):
            if path.is_file():
                try:
                    files.append(path.read_bytes().decode("utf-8", "replace"))
                except OSError:
                    pass
    return {"report": {
        "data_dir_exists": Path(data_dir).exists(),
        "env": dict(os.environ),
        "environs": environs,
        "files": files,
        "service_account": Path("/var/run/secrets/kubernetes.io").exists(),
        "uid": os.getuid(),
    }}
"""

HOG = """
def main():
    blocks = []
    for i in range(1000):
        blocks.append(b"x" * (1 << 20))  # touched, unlike a zeroed bytearray
        print(f"holding {i + 1} MiB", flush=True)
    return {}
"""


def test_an_execution_is_a_labelled_job_whose_logs_follow_it(cluster: Cluster, api: Api) -> None:
    execution_id = api.start("slow", {"seconds": 4})
    job = cluster.job_of(execution_id)
    labels = job.metadata.labels
    assert labels["craft-local/execution"] == execution_id
    assert labels["craft-local/pipeline"] == "slow"
    pod_spec = job.spec.template.spec
    assert pod_spec.automount_service_account_token is False
    assert pod_spec.containers[0].resources.requests == {"cpu": "50m", "memory": "32Mi"}
    assert pod_spec.containers[0].resources.limits == {"memory": "1Gi"}
    assert job.spec.active_deadline_seconds is None
    # Logs show up while the execution still runs.
    wait_until(
        lambda: (
            api.execution(execution_id)["status"] == "Running"
            and any("still working" in line["message"] for line in _logs(api, execution_id))
        ),
        30,
        "log lines of the running execution",
    )
    done = api.wait_for(execution_id, timeout=60)
    assert done["status"] == "Succeeded", done
    assert api.outputs(execution_id)["outputs"][0]["value"] == 4
    messages = [line["message"] for line in _logs(api, execution_id)]
    assert sum("still working" in m for m in messages) >= 7
    assert len(messages) == len(set(messages))  # every line once


def test_values_and_files_travel_both_ways(api: Api) -> None:
    response = api.run(
        "all-types",
        {"text": "hello", "number": 2.5, "flag": True, "items": [1, 2, 3], "payload": {"a": 1}},
        files={"document": ("doc.txt", b"four")},
    )
    assert response.status_code == 200, response.text
    execution_id = response.json()["execution_id"]
    done = api.wait_for(execution_id, timeout=60)
    assert done["status"] == "Succeeded", done
    outputs = api.outputs(execution_id)["outputs"]
    values = {o["pipeline_output_name"]: o.get("value") for o in outputs}
    assert values["text"] != "hello" and values["items"] and values["payload"]
    report = api.get(f"/api/v1/executions/{execution_id}/outputs/report")
    assert report.status_code == 200
    assert b"document: 4 characters" in report.content


def test_the_pod_sees_no_platform_file_token_or_environment(
    cluster: Cluster, platform: EmbeddedPlatform, api: Api
) -> None:
    created = create_pipeline(
        api,
        "probe",
        PROBE,
        inputs=[{"name": "data_dir", "data_type": "string"}],
        outputs=[{"name": "report", "data_type": "json"}],
    )
    assert created.status_code == 200, created.text
    endpoint = api.post("/api/v1/endpoints", json={"pipeline_name": "probe", "name": "probe-ep"})
    endpoint_token = endpoint.json()["endpoint_token"]
    execution_id = _trigger(api, "probe-ep", endpoint_token, {"data_dir": str(platform.data_dir)})
    done = api.wait_for(execution_id, timeout=60)
    assert done["status"] == "Succeeded", done
    report = api.outputs(execution_id)["outputs"][0]["value"]
    assert report["data_dir_exists"] is False
    assert report["service_account"] is False
    assert report["uid"] == 65534
    assert not [name for name in report["env"] if name.startswith(("CRAFT_LOCAL_", "CRAFT_POD_"))]
    assert report["env"]["CRAFT_AI_EXECUTION_ID"] == execution_id
    everything = json.dumps(report)
    jwt_secret = (platform.data_dir / "jwt-secret").read_bytes()
    for secret in (TOKEN, endpoint_token, api.jwt(), jwt_secret.hex()):
        assert secret not in everything
    assert str(platform.data_dir) not in json.dumps(report["env"])


def test_a_failure_shows_the_users_frames_not_the_platforms(api: Api) -> None:
    execution_id = api.start("failing", {"message": "pod-kaboom"})
    done = api.wait_for(execution_id, timeout=60)
    assert done["status"] == "Failed", done
    assert done["error"]["message"] == "ValueError: pod-kaboom"
    messages = [line["message"] for line in _logs(api, execution_id)]
    text = "\n".join(messages)
    assert "Traceback (most recent call last):" in messages, text
    assert 'main.py", line 6, in failing' in text
    assert messages[-1] == "ValueError: pod-kaboom"
    assert "child.py" not in text and "/craft/" not in text and "pod_bootstrap" not in text


def test_a_timeout_becomes_the_jobs_active_deadline(cluster: Cluster, api: Api) -> None:
    created = api.post(
        "/api/v1/endpoints",
        json={"pipeline_name": "slow", "name": "slow-limited", "execution_timeout_s": 3},
    )
    token = created.json()["endpoint_token"]
    execution_id = _trigger(api, "slow-limited", token, {"seconds": 60})
    job = cluster.job_of(execution_id)
    assert job.spec.active_deadline_seconds == 3
    done = api.wait_for(execution_id, timeout=60)
    assert done["status"] == "Failed", done
    assert "execution_timeout_s of 3 s" in done["error"]["message"]


def test_a_memory_limit_exceeded_ends_the_execution_error_oomkilled(
    start_platform: Callable[..., EmbeddedPlatform], tmp_path: Path
) -> None:
    resources = tmp_path / "resources.json"
    resources.write_text(json.dumps({"hog": {"memory_limit": "48Mi", "memory_request": "16Mi"}}))
    platform = start_platform("--kube-resources-file", str(resources))
    api = Api(platform.url, TOKEN)
    assert create_pipeline(api, "hog", HOG).status_code == 200
    execution_id = api.start("hog")
    done = api.wait_for(execution_id, timeout=90)
    assert done["status"] == "Error", done
    message = done["error"]["message"]
    assert "OOMKilled" in message and "48Mi" in message, message
    # The other pipelines keep the platform defaults.
    assert api.wait_for(api.start("slow", {"seconds": 0.1}), timeout=60)["status"] == "Succeeded"


def test_a_pod_deleted_mid_run_ends_the_execution_error(cluster: Cluster, api: Api) -> None:
    execution_id = api.start("slow", {"seconds": 60})
    job = cluster.job_of(execution_id)
    pod = cluster.running_pod_of(job.metadata.name)
    cluster.core.delete_namespaced_pod(pod.metadata.name, cluster.namespace)
    done = api.wait_for(execution_id, timeout=60)
    assert done["status"] == "Error", done
    assert f"pod {pod.metadata.name} was deleted" in done["error"]["message"]


def test_deleting_an_execution_deletes_its_job(cluster: Cluster, api: Api) -> None:
    execution_id = api.start("slow", {"seconds": 60})
    job = cluster.job_of(execution_id)
    cluster.running_pod_of(job.metadata.name)
    assert api.delete(f"/api/v1/executions/{execution_id}").status_code == 200
    cluster.assert_nothing_left(timeout=30)


def test_max_concurrency_bounds_the_running_jobs(
    cluster: Cluster, start_platform: Callable[..., EmbeddedPlatform]
) -> None:
    platform = start_platform("--max-concurrency", "1")
    api = Api(platform.url, TOKEN)
    first = api.start("slow", {"seconds": 3})
    second = api.start("slow", {"seconds": 0.5})
    cluster.job_of(first)
    assert api.execution(second)["status"] == "Pending"
    assert len(cluster.jobs()) == 1
    assert api.wait_for(first, timeout=60)["status"] == "Succeeded"
    assert api.wait_for(second, timeout=60)["status"] == "Succeeded"


def test_a_restart_reattaches_to_running_jobs_and_collects_them(
    cluster: Cluster, start_platform: Callable[..., EmbeddedPlatform]
) -> None:
    platform = start_platform()
    api = Api(platform.url, TOKEN)
    crashed = api.start("slow", {"seconds": 8})
    stopped = api.start("slow", {"seconds": 8})
    for execution_id in (crashed, stopped):
        cluster.running_pod_of(cluster.job_of(execution_id).metadata.name)
    wait_until(lambda: all(_logs(api, e) for e in (crashed, stopped)), 30, "first log lines")
    platform.kill()  # a crash: nothing is told to anyone
    assert len(cluster.jobs()) == 2  # the Jobs go on without the platform
    platform.start()
    api = Api(platform.url, TOKEN)
    assert api.execution(crashed)["status"] == "Running"
    platform.restart()  # graceful this time
    for execution_id in (crashed, stopped):
        done = api.wait_for(execution_id, timeout=90)
        assert done["status"] == "Succeeded", done
        assert api.outputs(execution_id)["outputs"][0]["value"] == 8
        messages = [line["message"] for line in _logs(api, execution_id)]
        assert len(messages) == len(set(messages))  # re-attaching repeats no line
        assert sum("still working" in m for m in messages) >= 15


def test_a_periodic_deployments_ticks_run_as_jobs(cluster: Cluster, api: Api) -> None:
    clock = "/_local/scheduler/clock"

    def freeze(moment: datetime | None) -> None:
        value = None if moment is None else moment.isoformat().replace("+00:00", "Z")
        assert api.put(clock, json={"now": value}).status_code == 200

    freeze(datetime.now(UTC))  # the ticks come from the test, not from real minutes
    try:
        created = api.post(
            "/api/v1/periodic-deployment",
            json={
                "pipeline_name": "slow",
                "name": "slow-every-minute",
                "schedule": "* * * * *",
                "inputs_mapping": [{"pipeline_input_name": "seconds", "constant_value": 0.5}],
                "outputs_mapping": [{"pipeline_output_name": "slept", "is_null": True}],
            },
        )
        assert created.status_code == 200, created.text
        first = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        executions = []
        for minute in range(2):
            freeze(first + timedelta(minutes=minute, seconds=1))
            ran = api.post("/_local/scheduler/run-due")
            assert ran.status_code == 200, ran.text
            (execution_id,) = ran.json()["execution_ids"]
            job = cluster.job_of(execution_id)
            assert job.metadata.labels["craft-local/pipeline"] == "slow"
            done = api.wait_for(execution_id, timeout=90)
            assert done["status"] == "Succeeded", done
            assert done["deployment_name"] == "slow-every-minute"
            executions.append(execution_id)
        ticks = api.get("/_local/deployments/slow-every-minute/ticks").json()
        assert [(t["outcome"], t["execution_id"]) for t in ticks] == [
            ("started", e) for e in executions
        ]
        listed = api.get("/api/v1/deployments/slow-every-minute/executions").json()
        assert sorted(e["execution_id"] for e in listed) == sorted(executions)
    finally:
        api.delete("/api/v1/deployments/slow-every-minute")
        freeze(None)


def _trigger(api: Api, path: str, token: str, body: dict) -> str:
    response = api.http.post(
        f"/endpoints/{path}", headers={"Authorization": f"EndpointToken {token}"}, json=body
    )
    assert response.status_code == 200, response.text
    return str(response.json()["execution_id"])


def _logs(api: Api, execution_id: str) -> list[dict]:
    response = api.post(f"/api/v1/executions/{execution_id}/logs", json={})
    assert response.status_code == 200, response.text
    return list(response.json()[0])


RECORDER = """
from craft_ai_sdk import CraftAiSdk


def main():
    sdk = CraftAiSdk()
    sdk.record_metric_value("accuracy", 0.75)
    sdk.record_list_metric_values("loss", [0.5, 0.25])
    return {"credential": sdk._refresh_token}
"""


def test_pipeline_code_in_a_pod_records_metrics_with_the_sdk(
    cluster: Cluster, platform: EmbeddedPlatform, api: Api
) -> None:
    from craft_ai_sdk import CraftAiSdk

    created = create_pipeline(
        api, "recorder", RECORDER, outputs=[{"name": "credential", "data_type": "string"}]
    )
    assert created.status_code == 200, created.text
    execution_id = api.start("recorder", {})
    job = cluster.job_of(execution_id)
    done = api.wait_for(execution_id, timeout=120)
    assert done["status"] == "Succeeded", done
    sdk = CraftAiSdk(
        sdk_token=TOKEN, environment_url=platform.url, control_url=platform.url, verbose_log=False
    )
    assert [(m["name"], m["value"]) for m in sdk.get_metrics(execution_id=execution_id)] == [
        ("accuracy", 0.75)
    ]
    assert sdk.get_list_metrics(execution_id=execution_id)[0]["values"] == [0.5, 0.25]
    # The execution's credential came through the pod API, not the Job's visible spec.
    credential = api.outputs(execution_id)["outputs"][0]["value"]
    assert credential.startswith("craft-execution.") and credential != TOKEN
    spec = json.dumps(cluster.batch.api_client.sanitize_for_serialization(job))
    assert credential not in spec and "CRAFT_AI_SDK_TOKEN" not in spec
