"""An Airflow 3 deployment as a user runs one: each component its own process, PostgreSQL as the
metadata database, everything on 127.0.0.1, talked to through the REST API v2.

The components run the ``airflow`` of this interpreter's venv, from the Airflow home as working
directory, so they import the installed provider, never the source tree.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from base64 import urlsafe_b64encode
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
from conditions import wait_until
from deployment.services import LOOPBACK, Service, stop_all

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
ADMIN = "admin"
FINISHED_RUN_STATES = {"success", "failed"}


def _clean_environ() -> dict[str, str]:
    """This process's environment without Airflow settings (the test session sets its own)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "CRAFT_")) and k not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }


class AirflowDeployment:
    """Configuration and processes of one Airflow deployment.

    :param home: ``AIRFLOW_HOME`` (logs, config, output storage).
    :param database_url: SQLAlchemy URL of the metadata database.
    :param dag_folders: folders holding DAG files, one local DAG bundle each.
    :param api_port: the api-server's port.
    :param executor: ``LocalExecutor`` or ``CeleryExecutor``.
    :param extra_env: more settings (``AIRFLOW__SECTION__KEY``) for every component.
    """

    def __init__(
        self,
        home: Path,
        database_url: str,
        dag_folders: Mapping[str, Path],
        api_port: int,
        *,
        executor: str = "LocalExecutor",
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.home = home
        self.api_url = f"http://{LOOPBACK}:{api_port}"
        self.api_port = api_port
        self.admin_password = secrets.token_urlsafe(12)
        self.services: list[Service] = []
        home.mkdir(parents=True, exist_ok=True)
        passwords = home / "simple_auth_manager_passwords.json"
        passwords.write_text(json.dumps({ADMIN: self.admin_password}))
        bundles = [
            {
                "name": name,
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(path), "refresh_interval": 0},
            }
            for name, path in dag_folders.items()
        ]
        self.env = {
            **_clean_environ(),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(next(iter(dag_folders.values()))),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            # Shared by every component, as in any multi-process deployment.
            "AIRFLOW__CORE__FERNET_KEY": urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            # The default 5 s is too short on a loaded 2-core machine: a task whose "start" call
            # timed out retries it, and the api-server refuses the retry (400, already running).
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            **(extra_env or {}),
        }

    def airflow(self, *args: str, timeout: float = 300) -> str:
        """Run one ``airflow`` command to its end; its output, or an error with it."""
        result = subprocess.run(
            [AIRFLOW, *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode:
            raise RuntimeError(
                f"airflow {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> Service:
        """Start one component (``airflow <args>``) in its own process group."""
        service = Service(
            name,
            [AIRFLOW, *args],
            self.home / "processes" / f"{name}.log",
            env={**self.env, **(env or {})},
            cwd=self.home,
        ).start()
        self.services.append(service)
        return service

    def start_core(self) -> None:
        """api-server, scheduler, dag-processor and triggerer, each its own process."""
        self.start("api-server", "api-server", "--host", LOOPBACK, "--port", str(self.api_port))
        self.start("scheduler", "scheduler", "--skip-serve-logs")
        self.start("dag-processor", "dag-processor")
        self.start("triggerer", "triggerer", "--skip-serve-logs")

    def check_alive(self) -> None:
        for service in self.services:
            if service.name in {"api-server", "scheduler", "dag-processor"}:
                service.check_alive()

    def service(self, name: str) -> Service:
        return next(s for s in reversed(self.services) if s.name == name)

    def stop(self) -> None:
        """Every component, by PID (process group), with a deadline then SIGKILL."""
        stop_all(self.services, timeout=10)

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {s.name}\n{s.log_tail(lines)}" for s in self.services)


class AirflowAPI:
    """Airflow's REST API v2 with a JWT from ``POST /auth/token``."""

    def __init__(self, deployment: AirflowDeployment) -> None:
        self.deployment = deployment
        # Generous: on a loaded 2-core machine one api-server worker can take long to answer.
        self.client = httpx.Client(base_url=deployment.api_url, timeout=120)

    def close(self) -> None:
        self.client.close()

    def _healthy(self) -> dict[str, Any] | None:
        self.deployment.check_alive()
        try:
            response = self.client.get("/api/v2/monitor/health")
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        health = response.json()
        components = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        if all((health.get(c) or {}).get("status") == "healthy" for c in components):
            return health
        return None

    def wait_healthy(self, timeout: float = 180) -> None:
        wait_until(self._healthy, timeout=timeout, what="every Airflow component to be healthy")

    def log_in(self) -> None:
        response = self.client.post(
            "/auth/token",
            json={"username": ADMIN, "password": self.deployment.admin_password},
        )
        assert response.status_code in (200, 201), response.text
        token = response.json()["access_token"]
        self.client.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(f"/api/v2{path}", params=params)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def send(self, method: str, path: str, body: Any) -> Any:
        response = self.client.request(method, f"/api/v2{path}", json=body)
        assert response.status_code in (200, 201), (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.json()

    def wait_dags(self, dag_ids: Iterable[str], timeout: float = 180) -> None:
        """Wait until the dag-processor stored every DAG; fail on an import error."""
        wanted = set(dag_ids)

        def parsed() -> bool:
            self.deployment.check_alive()
            errors = self.get("/importErrors")["import_errors"]
            assert not errors, errors
            found = {d["dag_id"] for d in self.get("/dags", limit=100)["dags"]}
            return wanted <= found

        wait_until(parsed, timeout=timeout, what=f"the DAGs {sorted(wanted)} to be parsed")

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Unpause and trigger ``dag_id``; the new run's id."""
        self.send("PATCH", f"/dags/{dag_id}", {"is_paused": False})
        run = self.send(
            "POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}}
        )
        return str(run["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def wait_run(
        self, dag_id: str, run_id: str, timeout: float = 300, interval: float = 0.05
    ) -> str:
        """The run's final state (``success`` or ``failed``).

        :param interval: seconds between two looks (each one a few API calls).
        """

        def finished() -> str | None:
            self.deployment.check_alive()
            state = self.run_state(dag_id, run_id)
            return state if state in FINISHED_RUN_STATES else None

        try:
            return str(
                wait_until(
                    finished, timeout=timeout, what=f"{dag_id} {run_id} to end", interval=interval
                )
            )
        except AssertionError as error:
            states = self.task_states(dag_id, run_id)
            raise AssertionError(f"{error}; tasks: {states}\n{self.deployment.logs()}") from None

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        found = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)
        return list(found["task_instances"])

    def task_states(self, dag_id: str, run_id: str) -> dict[tuple[str, int], str | None]:
        return {
            (ti["task_id"], ti["map_index"]): ti["state"]
            for ti in self.task_instances(dag_id, run_id)
        }

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        """One XCom's value, as stored (JSON)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        value = self.get(path, map_index=map_index)["value"]
        return json.loads(value) if isinstance(value, str) and value[:1] in '{["' else value

    def has_xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> bool:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        response = self.client.get(f"/api/v2{path}", params={"map_index": map_index})
        assert response.status_code in (200, 404), response.text
        return response.status_code == 200

    def extra_links(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1
    ) -> dict[str, str | None]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/links"
        return dict(self.get(path, map_index=map_index)["extra_links"])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        response = self.client.get(f"/api/v2{path}", headers={"Accept": "application/json"})
        assert response.status_code == 200, response.text
        return response.text
