"""The child process of an execution: its environment and working directory."""

from __future__ import annotations

from platform_kit import (
    Api,
    create_pipeline,
    output_values,
)


def test_environment_of_the_child(api: Api) -> None:
    code = (
        "import os\n"
        "def main():\n"
        "    return {'id': os.environ['CRAFT_AI_EXECUTION_ID'], 'cwd': os.getcwd(),\n"
        "            'leak': [k for k in os.environ if k.startswith('CRAFT_LOCAL_')]}\n"
    )
    outputs = [
        {"name": "id", "data_type": "string"},
        {"name": "cwd", "data_type": "string"},
        {"name": "leak", "data_type": "array"},
    ]
    assert create_pipeline(api, "env-probe", code, outputs=outputs).status_code == 200
    done = api.finish("env-probe")
    values = output_values(done)
    assert values["id"] == done["execution_id"]
    assert values["leak"] == []  # the SDK token never reaches pipeline code
    assert done["execution_id"] in values["cwd"]


def _log_messages(api: Api, execution_id: str) -> list[str]:
    response = api.post(f"/api/v1/executions/{execution_id}/logs", json={})
    assert response.status_code == 200, response.text
    return [line["message"] for line in response.json()[0]]


def test_a_failure_shows_the_users_frames_not_the_platforms(api: Api) -> None:
    code = (
        "def check(n):\n"
        "    raise ValueError(f'n must be positive, got {n}')\n"
        "\n"
        "def main():\n"
        "    check(-1)\n"
    )
    assert create_pipeline(api, "user-frames", code).status_code == 200
    done = api.finish("user-frames")
    assert done["status"] == "Failed"
    assert done["error"]["message"] == "ValueError: n must be positive, got -1"
    messages = _log_messages(api, done["execution_id"])
    text = "\n".join(messages)
    assert messages[0] == "Traceback (most recent call last):", text
    assert 'File "src/main.py", line 5, in main' in text
    assert 'File "src/main.py", line 2, in check' in text
    assert messages[-1] == "ValueError: n must be positive, got -1"
    assert "child.py" not in text and "craft_local" not in text


def test_a_failure_the_platform_detects_has_no_frames(api: Api) -> None:
    assert create_pipeline(api, "no-such-function", "x = 1\n").status_code == 200
    done = api.finish("no-such-function")
    assert done["status"] == "Failed"
    messages = _log_messages(api, done["execution_id"])
    assert messages == ["AttributeError: 'src/main.py' has no function 'main'"], messages


def test_a_syntax_error_points_at_the_users_line(api: Api) -> None:
    assert create_pipeline(api, "bad-syntax", "def main(:\n    pass\n").status_code == 200
    done = api.finish("bad-syntax")
    assert done["status"] == "Failed"
    text = "\n".join(_log_messages(api, done["execution_id"]))
    assert 'File "src/main.py", line 1' in text and "SyntaxError" in text, text
    assert "child.py" not in text and "Traceback" not in text
