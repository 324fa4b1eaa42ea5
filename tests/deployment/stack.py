"""The parts of a test deployment, shared by the deployment and browser suites: the embedded
platform serving the example pipelines plus the test-only ones, and a running Airflow deployment
with the ``craft_ai_default`` connection pointing at it."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.services import PostgresServer
from deployment.timings import phase

import craft_airflow
from craft_local.examples import EXAMPLE_PIPELINES
from craft_local.server import EmbeddedPlatform, free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
TEST_DAGS = Path(__file__).resolve().parent / "dags"
DAG_FOLDERS = {"example-dags": EXAMPLE_DAGS, "deployment-test-dags": TEST_DAGS}
PIPELINE_FOLDERS = (EXAMPLE_PIPELINES, Path(__file__).resolve().parent / "pipelines")
SDK_TOKEN = "deployment-test-sdk-token-51c2e8"
#: The extra link's name, as the UI and the extra-links endpoint show it.
LINK_NAME = "Craft AI execution"
EXAMPLE_DAG_IDS = sorted(p.stem for p in EXAMPLE_DAGS.glob("craft_*.py"))
#: Example DAGs that a platform event drives, not a manual run: one waits for a deployment's next
#: scheduled execution (03:00 UTC by default), the other runs on each execution's asset event.
EVENT_DRIVEN_EXAMPLE_DAG_IDS = frozenset({"craft_deploy_and_wait", "craft_deployment_events"})
#: The example DAGs the suite triggers once each and waits for.
RUN_ONCE_EXAMPLE_DAG_IDS = [d for d in EXAMPLE_DAG_IDS if d not in EVENT_DRIVEN_EXAMPLE_DAG_IDS]
TEST_DAG_IDS = sorted(p.stem for p in TEST_DAGS.glob("craft_*.py"))


def assert_installed_provider() -> None:
    """The suites test the provider as installed in the venv, not the source tree."""
    location = Path(craft_airflow.__file__).resolve()
    assert location.is_relative_to(Path(sys.prefix).resolve()), (
        f"craft_airflow imported from {location}, not from the venv {sys.prefix}"
    )


# The connection holds the endpoint token of this deployment (the public-endpoint route); the
# other example endpoint is triggered with the SDK token.
ENDPOINTS_WITH_TOKEN = ("all-types-endpoint",)


def declared_endpoint_tokens() -> dict[str, str]:
    """The endpoint tokens the example pipelines declare for ``ENDPOINTS_WITH_TOKEN``."""
    tokens = {}
    for declaration in EXAMPLE_PIPELINES.glob("*/pipeline.json"):
        for deployment in json.loads(declaration.read_text()).get("deployments", []):
            if deployment["name"] in ENDPOINTS_WITH_TOKEN:
                tokens[deployment["name"]] = deployment["endpoint_token"]
    return tokens


@contextmanager
def embedded_platform(
    root: Path,
    *,
    max_concurrency: int = 24,
    pipeline_folders: Iterable[Path] = PIPELINE_FOLDERS,
    shutdown_grace_seconds: float = 5,
) -> Iterator[EmbeddedPlatform]:
    """The embedded platform on 127.0.0.1 with the example and test pipelines.

    :param max_concurrency: executions running at once (``--max-concurrency``).
    :param pipeline_folders: folders of declared pipelines, copied under ``root``.
    :param shutdown_grace_seconds: how long a graceful stop lets running executions finish.
    """
    pipelines = root / "pipelines"
    for folder in pipeline_folders:
        for pipeline in folder.iterdir():
            if (pipeline / "pipeline.json").is_file():
                shutil.copytree(pipeline, pipelines / pipeline.name)
    platform = EmbeddedPlatform(
        root / "platform",
        sdk_token=SDK_TOKEN,
        pipelines_dir=pipelines,
        extra_args=["--max-concurrency", str(max_concurrency)],
        # -m would put the working directory (the source tree) first on sys.path.
        env={"PYTHONSAFEPATH": "1"},
        shutdown_grace_seconds=shutdown_grace_seconds,
    )
    with phase("start the embedded platform"):
        platform.start()
    try:
        yield platform
    finally:
        platform.stop()


def connection_body(
    platform: EmbeddedPlatform,
    endpoint_tokens: Mapping[str, str],
    more_extra: Mapping[str, Any] | None = None,
) -> dict:
    """``craft_ai_default`` as a user creates it through the REST API.

    :param more_extra: more extras (e.g. a retry budget).
    """
    extra = {
        "control_url": platform.url,
        "endpoint_tokens": dict(endpoint_tokens),
        **(more_extra or {}),
    }
    return {
        "connection_id": "craft_ai_default",
        "conn_type": "craftai",
        "host": platform.url,
        "password": platform.sdk_token,
        "extra": json.dumps(extra),
    }


def _timed(name: str, action: Callable[[], None]) -> None:
    with phase(name):
        action()


@contextmanager
def airflow_deployment(
    name: str,
    root: Path,
    postgres: PostgresServer,
    platform: EmbeddedPlatform,
    *,
    executor: str = "LocalExecutor",
    extra_env: Mapping[str, str] | None = None,
    dag_folders: Mapping[str, Path] = DAG_FOLDERS,
    dag_ids: Iterable[str] | None = None,
    connection_extra: Mapping[str, Any] | None = None,
) -> Iterator[tuple[AirflowDeployment, AirflowAPI]]:
    """A migrated database, the four core components, an admin JWT and the Craft connection.

    Every process is stopped at the end, also when starting failed.

    :param dag_folders: the DAG bundles (name -> folder); the example and test DAGs by default.
    :param dag_ids: the DAGs to wait for; by default those of the example and test DAGs.
    :param connection_extra: more extras of the Craft connection.
    """
    with ExitStack() as stack:
        with phase(f"{name}: create the database and migrate it"):
            url = postgres.create_database(name.replace("-", "_"))
            deployment = AirflowDeployment(
                root / name,
                url,
                dag_folders,
                free_port(),
                executor=executor,
                extra_env=extra_env,
            )
            stack.callback(_timed, f"{name}: stop every process", deployment.stop)
            deployment.airflow("db", "migrate")
        with phase(f"{name}: start api-server, scheduler, dag-processor, triggerer"):
            deployment.start_core()
            api = AirflowAPI(deployment)
            stack.callback(api.close)
            api.wait_healthy()
            api.log_in()
        with phase(f"{name}: connection and DAG parsing"):
            body = connection_body(platform, declared_endpoint_tokens(), connection_extra)
            api.send("POST", "/connections", body)
            api.wait_dags([*EXAMPLE_DAG_IDS, *TEST_DAG_IDS] if dag_ids is None else dag_ids)
        yield deployment, api


class PlatformAPI:
    """The embedded platform's API with an access token from the SDK token."""

    def __init__(self, platform: EmbeddedPlatform) -> None:
        self.platform = platform
        self.client = httpx.Client(base_url=platform.url, timeout=60)
        token = self.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": platform.sdk_token}
        ).json()["access_token"]
        self.client.headers["Authorization"] = f"Bearer {token}"

    def executions(self, pipeline: str) -> list[dict]:
        response = self.client.get(f"/api/v1/pipelines/{pipeline}/executions")
        assert response.status_code == 200, response.text
        return list(response.json())

    def status(self) -> dict:
        """``GET /_local/status`` (the SDK token is accepted there)."""
        response = self.client.get(
            "/_local/status", headers={"Authorization": f"Bearer {self.platform.sdk_token}"}
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def close(self) -> None:
        self.client.close()
