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
