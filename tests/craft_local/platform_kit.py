"""Helpers for the embedded platform tests: a small HTTP client, waits, code archives."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx
from conditions import wait_until

from craft_local.connection import CONN_ID, TOKEN_VARIABLE
from craft_local.examples import EXAMPLE_PIPELINES
from craft_local.server import EmbeddedPlatform

EXAMPLES = EXAMPLE_PIPELINES
TOKEN = "local-test-sdk-token-9d2e"
TERMINAL = {"Succeeded", "Failed", "Error", "Skipped"}


class Api:
    """A tiny test client: Bearer JWT from the SDK token, JSON helpers, condition waits."""

    def __init__(self, url: str, sdk_token: str) -> None:
        self.url = url
        self.sdk_token = sdk_token
        self.http = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
        self._jwt: str | None = None

    def jwt(self) -> str:
        if self._jwt is None:
            response = self.http.post(
                "/api/v1/auth/refresh", json={"refresh_token": self.sdk_token}
            )
            response.raise_for_status()
            self._jwt = response.json()["access_token"]
        return self._jwt

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.jwt()}", **kwargs.pop("headers", {})}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code == 401 and "expired" in response.text:
            self._jwt = None
            headers["Authorization"] = f"Bearer {self.jwt()}"
            response = self.http.request(method, path, headers=headers, **kwargs)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def run(
        self,
        pipeline: str,
        inputs: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        **mappings: Any,
    ) -> httpx.Response:
        data = {"json_inputs": json.dumps(inputs or {})}
        data.update({k: json.dumps(v) for k, v in mappings.items()})
        return self.post(f"/api/v1/pipelines/{pipeline}/run", data=data, files=files)

    def start(self, pipeline: str, inputs: dict[str, Any] | None = None, **kw: Any) -> str:
        response = self.run(pipeline, inputs, **kw)
        assert response.status_code == 200, response.text
        return str(response.json()["execution_id"])

    def execution(self, execution_id: str) -> dict[str, Any]:
        response = self.get(f"/api/v1/executions/{execution_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_for(
        self, execution_id: str, statuses: set[str] = TERMINAL, timeout: float = 20
    ) -> dict[str, Any]:
        return wait_until(
            lambda: (e := self.execution(execution_id))["status"] in statuses and e,
            timeout,
            f"{execution_id} to reach {statuses}",
        )

    def finish(self, pipeline: str, inputs: dict[str, Any] | None = None, **kw: Any) -> dict:
        return self.wait_for(self.start(pipeline, inputs, **kw))

    def outputs(self, execution_id: str) -> dict[str, Any]:
        """Follow the §5.4 long-poll until a non-307 answer."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            response = self.get(
                f"/api/v1/executions/{execution_id}/outputs?wait_for_completion=true"
            )
            if response.status_code != 307:
                assert response.status_code == 200, response.text
                return dict(response.json())
        raise AssertionError("outputs never became available")


def make_tarball(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def create_pipeline(
    api: Api,
    name: str,
    code: str,
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    function_name: str = "main",
) -> httpx.Response:
    """Create a pipeline the way the SDK does: flattened multipart fields plus ``step_file``."""
    fields = {"pipeline_name": name, "function_path": "src/main.py", "function_name": function_name}
    for kind, items in (("inputs", inputs or []), ("outputs", outputs or [])):
        for i, item in enumerate(items):
            for key, value in item.items():
                fields[f"{kind}[{i}][{key}]"] = str(value)
    files = {"step_file": ("step.tar.gz", make_tarball({"src/main.py": code}))}
    return api.post("/api/v1/pipelines", data=fields, files=files)


def start_platform(tmp: Path, *extra: str, declared: bool = True) -> EmbeddedPlatform:
    return EmbeddedPlatform(
        tmp,
        sdk_token=TOKEN,
        pipelines_dir=EXAMPLES if declared else None,
        extra_args=["--long-poll-seconds", "0.5", *extra],
    ).start()


def run_printed(commands: str, token: str) -> dict[str, Any]:
    """Run the printed lines in bash with the token variable set; ``airflow`` is a stand-in that
    records its arguments. Return the exported connection and the ``airflow`` arguments."""
    lines = [line.strip() for line in commands.splitlines()]
    export = next(line for line in lines if line.startswith("export "))
    add = next(line for line in lines if line.startswith("airflow "))
    script = "\n".join(
        [
            "airflow() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \"$@\"; }",
            export,
            f'printf "%s\\n" "$AIRFLOW_CONN_{CONN_ID.upper()}"',
            add,
        ]
    )
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", TOKEN_VARIABLE: token},
        timeout=30,
        check=True,
    )
    exported, argv = result.stdout.splitlines()
    return {"exported": json.loads(exported), "argv": json.loads(argv)}


ALL_TYPES_TOKEN = "all-types-endpoint-local-token"


ERROR_KEYS = {"message", "name", "request_id", "additional_data"}


ECHO = (
    "def main(n, flag, label='x'):\n    return {'doubled': n * 2, 'flag': flag, 'label': label}\n"
)


def endpoint_results(
    platform: EmbeddedPlatform, path: str, execution_id: str, token: str
) -> httpx.Response:
    """Follow the results long-poll by hand, checking each 307 keeps the token."""
    url = f"{platform.url}/endpoints/v1/{path}/executions/{execution_id}?token={token}"
    for _ in range(60):
        response = httpx.get(url, follow_redirects=False, timeout=30)
        if response.status_code != 307:
            return response
        assert response.headers["location"].endswith(f"?token={token}")
        url = platform.url + response.headers["location"]
    raise AssertionError("no result")


def trigger_endpoint(
    platform: EmbeddedPlatform, path: str, token: str, **kwargs: Any
) -> httpx.Response:
    return httpx.post(
        f"{platform.url}/endpoints/{path}",
        headers={"Authorization": f"EndpointToken {token}"},
        follow_redirects=False,
        **kwargs,
    )


def output_values(execution: dict) -> dict:
    return {o["pipeline_output_name"]: o.get("value") for o in execution["outputs"]}


def tar_archive(*members: tarfile.TarInfo) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    buffer.seek(0)
    return buffer


def tar_member(
    name: str, kind: bytes = tarfile.REGTYPE, size: int = 1, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size if kind == tarfile.REGTYPE else 0
    info.linkname = link
    return info
