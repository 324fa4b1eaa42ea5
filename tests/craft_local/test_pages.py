"""The HTML pages of the embedded platform over real HTTP: what a person reads."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest
from conditions import wait_until
from markupsafe import escape
from platform_kit import EXAMPLES, Api, create_pipeline

from craft_local.server import EmbeddedPlatform

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
REFRESH = '<meta http-equiv="refresh"'
HOSTILE = "<script>alert('pwned')</script>"


def _page(platform: EmbeddedPlatform, path: str, status: int = 200) -> str:
    response = httpx.get(platform.url + path, headers=BROWSER, timeout=30)
    assert response.status_code == status, (path, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html"), response.headers
    return response.text


def _links(page: str) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'href="(/[^"]*)"', page)]


def test_overview_and_lists(platform: EmbeddedPlatform) -> None:
    overview = _page(platform, "/")
    links = _links(overview)
    for name in ("all-types", "failing", "slow", "word-count"):
        assert f"/pipelines/{name}" in links
    assert "/deployments/all-types-endpoint" in links
    pipelines = _page(platform, "/pipelines")
    assert "/pipelines/slow" in _links(pipelines)
    assert "<h2>Deployments</h2>" not in pipelines
    deployments = _page(platform, "/deployments")
    assert "/deployments/word-count-endpoint" in _links(deployments)
    assert "<h2>Pipelines</h2>" not in deployments


def test_succeeded_execution_page(platform: EmbeddedPlatform, api: Api) -> None:
    document = b"three little words\n"
    execution_id = api.start(
        "all-types",
        {"text": HOSTILE, "items": [1, "two"]},
        files={"document": ("notes.txt", document)},
    )
    assert api.wait_for(execution_id)["status"] == "Succeeded"
    page = _page(platform, f"/executions/{execution_id}")
    assert f"Execution {execution_id}" in page
    assert 'class="status status-Succeeded">Succeeded<' in page
    assert REFRESH not in page
    assert (
        httpx.head(f"{platform.url}/executions/{execution_id}", headers=BROWSER).status_code == 200
    )
    for label in ("Created", "Started", "Ended", "Duration"):
        assert f"<dt>{label}</dt>" in page
    assert 'href="/pipelines/all-types"' in page
    # The hostile input is escaped wherever it shows: input, output and log line.
    assert "<script>" not in page.lower()
    assert escape(HOSTILE) in page
    assert escape(HOSTILE.upper()) in page
    assert "number=1 flag=False" in page  # the log line
    assert "&#34;two&#34;,\n  1" in page  # items reversed, as indented JSON
    downloads = [link for link in _links(page) if link.endswith("/file")]
    assert downloads == [
        f"/executions/{execution_id}/inputs/document/file",
        f"/executions/{execution_id}/outputs/report/file",
    ]
    given = httpx.get(platform.url + downloads[0], timeout=30)
    assert given.status_code == 200
    assert given.content == document
    report = httpx.get(platform.url + downloads[1], timeout=30)
    assert report.status_code == 200
    assert report.content == api.get(f"/api/v1/executions/{execution_id}/outputs/report").content
    assert report.content.startswith(f"text: {HOSTILE}\n".encode())
    assert 'filename="report.txt"' in report.headers["content-disposition"]


def test_failed_execution_page(platform: EmbeddedPlatform, api: Api) -> None:
    execution_id = api.start("failing", {"message": "the disk is full"})
    failed = api.wait_for(execution_id)
    assert failed["status"] == "Failed"
    page = _page(platform, f"/executions/{execution_id}")
    assert 'class="status status-Failed">Failed<' in page
    assert REFRESH not in page
    error = page.split("<h2>Error</h2>", 1)[1].split("</div>", 1)[0]
    assert "the disk is full" in error
    assert "about to fail" in page  # the log line printed before the failure
    assert "no value: the execution is Failed" in page  # the output "never"
    assert "/outputs/never/file" not in page
    missing = httpx.get(
        f"{platform.url}/executions/{execution_id}/outputs/never/file", headers=BROWSER
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")


def test_running_execution_page_follows_it(platform: EmbeddedPlatform, api: Api) -> None:
    execution_id = api.start("slow", {"seconds": 60})
    try:
        api.wait_for(execution_id, {"Running"})
        page = _page(platform, f"/executions/{execution_id}")
        assert REFRESH in page
        assert 'class="status status-Running">Running<' in page
        assert "<dt>Ended</dt><dd>not yet</dd>" in page
        # Each reload shows the lines logged since the last one.
        first = wait_until(
            lambda: "still working" in (p := _page(platform, f"/executions/{execution_id}")) and p,
            20,
            "a first log line on the page",
        )
        count = first.count("still working")
        wait_until(
            lambda: _page(platform, f"/executions/{execution_id}").count("still working") > count,
            20,
            "more log lines on the page",
        )
    finally:
        api.delete(f"/api/v1/executions/{execution_id}")


def test_pipeline_and_deployment_pages(platform: EmbeddedPlatform, api: Api) -> None:
    run_id = api.start("all-types", {"text": "by run"})
    triggered = httpx.post(
        f"{platform.url}/endpoints/all-types-endpoint",
        headers={"Authorization": "EndpointToken all-types-endpoint-local-token"},
        json={"text": "by endpoint"},
    )
    endpoint_id = triggered.json()["execution_id"]
    api.wait_for(run_id)
    api.wait_for(endpoint_id)

    pipeline = _page(platform, "/pipelines/all-types")
    links = _links(pipeline)
    assert f"/executions/{run_id}" in links
    assert f"/executions/{endpoint_id}" in links
    assert "/deployments/all-types-endpoint" in links
    assert "<td>document</td><td>file</td>" in pipeline
    # Whether a run must give each input, as the API decides it.
    assert "<td>text</td><td>string</td>\n    <td>required</td>" in pipeline
    assert "<td>number</td><td>number</td>\n    <td>default <code>1</code></td>" in pipeline
    assert "<td>document</td><td>file</td>\n    <td>optional</td>" in pipeline
    # Newest first.
    assert links.index(f"/executions/{endpoint_id}") < links.index(f"/executions/{run_id}")

    deployment = _page(platform, "/deployments/all-types-endpoint")
    links = _links(deployment)
    assert f"/executions/{endpoint_id}" in links
    assert f"/executions/{run_id}" not in links
    assert "/pipelines/all-types" in links
    assert "POST /endpoints/all-types-endpoint" in deployment
    assert "all-types-endpoint-local-token" not in deployment

    execution = _page(platform, f"/executions/{endpoint_id}")
    assert "/deployments/all-types-endpoint" in _links(execution)
    assert "endpoint field text" in execution  # where the input came from


def test_an_input_declared_without_is_required_reads_optional(
    platform: EmbeddedPlatform, api: Api
) -> None:
    inputs = [{"name": "n", "data_type": "number"}]
    created = create_pipeline(api, "loose-page", "def main(n=1):\n    pass\n", inputs=inputs)
    assert created.status_code == 200, created.text
    assert "<td>n</td><td>number</td>\n    <td>optional</td>" in _page(
        platform, "/pipelines/loose-page"
    )
    assert api.finish("loose-page")["status"] == "Succeeded"  # and the API agrees


@pytest.mark.parametrize(
    "path",
    ["/executions/no-such-execution", "/pipelines/nope", "/deployments/nope", "/no/such/page"],
)
def test_missing_pages_are_html_404s(platform: EmbeddedPlatform, path: str) -> None:
    page = _page(platform, path, 404)
    assert "<h1>Not found</h1>" in page
    assert 'href="/"' in page


def test_api_answers_stay_json(platform: EmbeddedPlatform, api: Api) -> None:
    # An unknown path without Accept: text/html keeps the platform's JSON 404.
    unknown = httpx.get(f"{platform.url}/no/such/page")
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "No route GET /no/such/page."
    # API paths answer JSON even to a browser, 404 and 405 alike.
    for path, status in [
        ("/api/v1/no-such-route", 404),
        ("/api/v1/executions/no-such-execution", 401),
        ("/endpoints/all-types-endpoint", 405),
        ("/endpoints/v1/nope", 404),
        ("/_local/nope", 404),
    ]:
        response = httpx.get(platform.url + path, headers=BROWSER)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"] == "application/json", path
        assert response.json()["name"]
    # Other methods on page paths keep the JSON 404.
    posted = httpx.post(f"{platform.url}/executions/x", headers=BROWSER)
    assert posted.status_code == 404
    assert posted.json()["name"] == "NotFound"
    # And the API's own answers are unchanged.
    listed = api.get("/api/v1/pipelines", headers=BROWSER)
    assert listed.headers["content-type"] == "application/json"
    assert "all-types" in {p["pipeline_name"] for p in listed.json()}


# ---- secrets ------------------------------------------------------------------------

SDK_TOKEN = "pages-sdk-token-5b7c1e9d"
ENDPOINT_TOKEN = "pages-endpoint-token-3f8a2c"
SECRET_VALUE = "pages-secret-value-9e4d7a"
DECLARED_TOKENS = ("all-types-endpoint-local-token", "word-count-endpoint-local-token")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

#: Uses its secret without echoing it: only what the page adds could leak it.
SECRET_CODE = "def main(secret):\n    print('got a secret')\n    return {'length': len(secret)}\n"


@pytest.fixture(scope="module")
def secret_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPlatform]:
    platform = EmbeddedPlatform(
        tmp_path_factory.mktemp("pages-secrets"),
        sdk_token=SDK_TOKEN,
        pipelines_dir=EXAMPLES,
        extra_args=["--long-poll-seconds", "0.5"],
    ).start()
    yield platform
    platform.stop()


def test_no_secret_on_any_page(secret_platform: EmbeddedPlatform) -> None:
    api = Api(secret_platform.url, SDK_TOKEN)
    jwt = api.jwt()
    env = api.put(
        "/api/v1/environment-variables",
        json={"environment_variables": {"PAGE_SECRET": SECRET_VALUE}},
    )
    assert env.status_code == 200
    created = create_pipeline(
        api,
        "uses-secret",
        SECRET_CODE,
        inputs=[{"name": "secret", "data_type": "string"}],
        outputs=[{"name": "length", "data_type": "number"}],
    )
    assert created.status_code == 200, created.text
    deployment = api.post(
        "/api/v1/endpoints",
        json={
            "pipeline_name": "uses-secret",
            "name": "secret-endpoint",
            "endpoint_token": ENDPOINT_TOKEN,
            "inputs_mapping": [
                {"pipeline_input_name": "secret", "environment_variable_name": "PAGE_SECRET"}
            ],
        },
    )
    assert deployment.status_code == 200, deployment.text
    run_id = api.start(
        "uses-secret",
        inputs_mapping=[
            {"pipeline_input_name": "secret", "environment_variable_name": "PAGE_SECRET"}
        ],
    )
    endpoint = httpx.post(
        f"{secret_platform.url}/endpoints/secret-endpoint",
        headers={"Authorization": f"EndpointToken {ENDPOINT_TOKEN}"},
        json={},
    )
    assert endpoint.status_code == 200, endpoint.text
    endpoint_id = endpoint.json()["execution_id"]
    for execution_id in (run_id, endpoint_id):
        done = api.wait_for(execution_id)
        assert done["status"] == "Succeeded", done
    declared = api.start("all-types", {"text": "declared"})
    api.wait_for(declared)

    # Every page reachable from the overview, and every download on them.
    seen: dict[str, str] = {}
    queue = ["/"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        response = httpx.get(secret_platform.url + path, headers=BROWSER, timeout=30)
        assert response.status_code == 200, (path, response.status_code)
        seen[path] = response.text
        if response.headers["content-type"].startswith("text/html"):
            queue.extend(link for link in _links(response.text) if link not in seen)
    for path in (
        f"/executions/{run_id}",
        f"/executions/{endpoint_id}",
        "/deployments/secret-endpoint",
        "/pipelines/uses-secret",
    ):
        assert path in seen, sorted(seen)
    assert "environment variable PAGE_SECRET" in seen[f"/executions/{run_id}"]
    assert "environment variable PAGE_SECRET" in seen[f"/executions/{endpoint_id}"]
    assert "environment variable PAGE_SECRET" in seen["/deployments/secret-endpoint"]
    secrets = (SDK_TOKEN, ENDPOINT_TOKEN, SECRET_VALUE, jwt, *DECLARED_TOKENS)
    for path, text in seen.items():
        for secret in secrets:
            assert secret not in text, (path, secret[:12])
        assert not JWT.search(text), path
    api.http.close()


def test_periodic_deployment_page_shows_its_schedule_next_tick_and_state(
    platform: EmbeddedPlatform, api: Api
) -> None:
    body = {
        "pipeline_name": "slow",
        "name": "page-nightly",
        "schedule": "30 2 * * *",
        "inputs_mapping": [{"pipeline_input_name": "seconds", "constant_value": 0.05}],
        "outputs_mapping": [{"pipeline_output_name": "slept", "is_null": True}],
    }
    assert api.post("/api/v1/periodic-deployment", json=body).status_code == 200
    clock = "/_local/scheduler/clock"
    try:
        assert api.put(clock, json={"now": "2040-03-04T05:06:07Z"}).status_code == 200
        page = _page(platform, "/deployments/page-nightly")
        assert "<code>30 2 * * *</code>" in page
        assert 'class="enabled">yes' in page
        assert "2040-03-05 02:30:00.000 UTC" in page  # the next tick at the frozen clock
        assert "scheduler clock 2040-03-04 05:06:07.000 UTC, frozen" in page
        assert "none yet" in page  # no tick claimed

        assert api.put(clock, json={"now": "2040-03-05T02:30:01Z"}).status_code == 200
        (execution_id,) = api.post("/_local/scheduler/run-due").json()["execution_ids"]
        page = _page(platform, "/deployments/page-nightly")
        assert "2040-03-05 02:30:00.000 UTC: started" in page
        assert f"/executions/{execution_id}" in _links(page)
        assert "2040-03-06 02:30:00.000 UTC" in page

        off = api.request("PATCH", "/api/v1/deployments/page-nightly", json={"is_enabled": False})
        assert off.status_code == 200, off.text
        page = _page(platform, "/deployments/page-nightly")
        assert 'class="enabled">no' in page
        assert 'class="next-tick">none' in page
        assert "2040-03-06 02:30:00.000 UTC" not in page
        listed = _page(platform, "/deployments")
        row = re.search(r'href="/deployments/page-nightly".*?</tr>', listed, re.S)
        assert row and "<code>30 2 * * *</code>" in row[0] and "<td>no</td>" in row[0]
        api.wait_for(execution_id)
    finally:
        api.put(clock, json={"now": None})
        api.delete("/api/v1/deployments/page-nightly")

    # An endpoint deployment has no schedule to show.
    endpoint = _page(platform, "/deployments/all-types-endpoint")
    assert "Next tick" not in endpoint and 'class="enabled">yes' in endpoint
