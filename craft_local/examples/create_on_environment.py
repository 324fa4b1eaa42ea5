"""Create the example pipelines and their endpoint deployments on a Craft AI environment, with
the official ``craft-ai-sdk`` (``pip install craft-ai-sdk``).

Usage::

    export CRAFT_AI_ENVIRONMENT_URL=https://<your environment's URL>
    export CRAFT_AI_SDK_TOKEN=<your SDK token>
    python -m craft_local.examples.create_on_environment              # every example
    python -m craft_local.examples.create_on_environment word-count   # some of them

Each sub-folder holding a ``pipeline.json`` is one pipeline: ``create_pipeline`` with the
``pipeline_name`` (default: the folder's name), ``function_path``, ``function_name``,
``description``, ``inputs`` and ``outputs`` of that file, the folder as its local code; then
``create_deployment`` (execution rule ``endpoint``) for each of its ``deployments``. A declared
``endpoint_token`` is a local-only value and is not sent: the environment generates a token,
which this script does not print; read it with ``sdk.get_deployment(name)["endpoint_token"]``
and put it in the connection's ``endpoint_tokens``. ``CRAFT_AI_CONTROL_URL`` is read by the SDK
too (default ``https://mlops-platform.craft.ai``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: Fields of a declared deployment that ``create_deployment`` takes as they are.
DEPLOYMENT_FIELDS = (
    "endpoint_url_path",
    "description",
    "execution_timeout_s",
    "enable_parallel_executions",
    "max_parallel_executions_per_pod",
)


def declarations(folder: Path = HERE, names: list[str] | None = None) -> list[tuple[Path, dict]]:
    """The declared pipelines ``(folder, pipeline.json)`` by name, only ``names`` if given."""
    found = []
    for path in sorted(folder.glob("*/pipeline.json")):
        spec = json.loads(path.read_text())
        spec.setdefault("pipeline_name", path.parent.name)
        if not names or spec["pipeline_name"] in names:
            found.append((path.parent, spec))
    missing = set(names or ()) - {spec["pipeline_name"] for _, spec in found}
    if missing:
        raise SystemExit(f"no pipeline.json declares {sorted(missing)} under {folder}")
    return found


def _input_fields(declared: dict) -> dict:
    fields = dict(declared)
    if fields.get("default_value") in ({}, []):
        # The SDK's form encoding drops an empty object or list (the input would become
        # required): send the input as optional instead, the function's own default applies.
        del fields["default_value"]
        fields.setdefault("is_required", False)
    return fields


def create(sdk: Any, folder: Path, spec: dict) -> list[str]:
    """Create one declared pipeline and its deployments; return the deployment names."""
    from craft_ai_sdk import InputSource, OutputDestination
    from craft_ai_sdk.io import Input, Output

    name = spec["pipeline_name"]
    sdk.create_pipeline(
        pipeline_name=name,
        function_path=spec["function_path"],
        function_name=spec["function_name"],
        description=spec.get("description"),
        container_config={"local_folder": str(folder)},
        inputs=[Input(**_input_fields(i)) for i in spec.get("inputs", [])],
        outputs=[Output(**o) for o in spec.get("outputs", [])],
    )
    created = []
    for deployment in spec.get("deployments", []):
        kwargs = {k: deployment[k] for k in DEPLOYMENT_FIELDS if k in deployment}
        if deployment.get("inputs_mapping"):
            kwargs["inputs_mapping"] = [InputSource(**m) for m in deployment["inputs_mapping"]]
        if deployment.get("outputs_mapping"):
            kwargs["outputs_mapping"] = [
                OutputDestination(**m) for m in deployment["outputs_mapping"]
            ]
        sdk.create_deployment(
            pipeline_name=name,
            deployment_name=deployment["name"],
            execution_rule=deployment.get("execution_rule", "endpoint"),
            **kwargs,
        )
        created.append(deployment["name"])
    return created


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="pipelines to create (default: all)")
    args = parser.parse_args(argv)

    from craft_ai_sdk import CraftAiSdk

    sdk = CraftAiSdk()  # CRAFT_AI_ENVIRONMENT_URL, CRAFT_AI_SDK_TOKEN, CRAFT_AI_CONTROL_URL
    for folder, spec in declarations(names=args.names):
        deployments = create(sdk, folder, spec)
        print(f"created pipeline {spec['pipeline_name']}", *deployments, sep="\n  deployment ")


if __name__ == "__main__":
    main()
