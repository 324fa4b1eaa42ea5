"""Provider registration: schema, names, connection form, what Airflow sees."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import airflow
import jsonschema
import pytest
from airflow_compat import AIRFLOW_VERSION
from packaging.version import Version

from craft_airflow.connection import EXTRA_KEYS
from craft_airflow.get_provider_info import get_provider_info

INFO = get_provider_info()
(CONNECTION,) = INFO["connection-types"]


def test_valid_against_airflow_provider_info_schema():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(INFO, schema)


def test_package_name_is_the_distribution_name():
    dist = distribution("craft-airflow")
    assert INFO["package-name"] == "craft-airflow" == dist.metadata["Name"]
    (entry_point,) = [ep for ep in dist.entry_points if ep.group == "apache_airflow_provider"]
    assert entry_point.value == "craft_airflow.get_provider_info:get_provider_info"


def test_connection_form_covers_every_extra():
    assert CONNECTION["connection-type"] == "craftai"
    assert set(CONNECTION["conn-fields"]) == set(EXTRA_KEYS)
    for name, spec in CONNECTION["conn-fields"].items():
        assert spec["label"] and spec["schema"]["type"], name
    secrets = {
        n for n, s in CONNECTION["conn-fields"].items() if s["schema"].get("format") == "password"
    }
    assert secrets == {"endpoint_token", "endpoint_tokens"}
    behaviour = CONNECTION["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"host": "Environment URL", "password": "SDK token"}
    assert "login" in behaviour["hidden-fields"]
    assert "password" not in behaviour["hidden-fields"]


def test_every_extra_has_a_placeholder():
    """Airflow 3's form puts a placeholder on a text extra only when its schema has
    ``examples`` (offered as suggestions too); a number shows its default; a list its own hint;
    a boolean is a switch."""
    for name, spec in CONNECTION["conn-fields"].items():
        schema = spec["schema"]
        kind = next(t for t in schema["type"] if t != "null")
        if kind == "string":
            assert schema["examples"] and all(schema["examples"]), name
        elif kind in ("number", "integer", "boolean"):
            assert schema["default"] is not None, name
        else:
            assert kind == "array" and schema["items"] == {"type": "string"}, name
    placeholders = CONNECTION["ui-field-behaviour"]["placeholders"]
    assert set(placeholders) == {"host", "password"}


@pytest.mark.parametrize(
    "dotted",
    [
        CONNECTION["hook-class-name"],
        *INFO["extra-links"],
    ],
)
def test_declared_classes_exist(dotted):
    module, _, name = dotted.rpartition(".")
    assert getattr(importlib.import_module(module), name)


def test_declared_modules_import():
    modules = [
        m
        for kind in ("operators", "sensors", "hooks", "triggers")
        for entry in INFO[kind]
        for m in entry["python-modules"]
    ]
    for module in modules:
        importlib.import_module(module)


def task_runtime_hooks() -> Any:
    """Where ``Connection.get_hook`` looks hooks up in a task: the task SDK's own providers
    manager on Airflow 3.3, the core ``ProvidersManager`` on Airflow 3.1."""
    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
    except ImportError:  # Airflow 3.1
        from airflow.providers_manager import ProvidersManager

        return ProvidersManager().hooks
    return ProvidersManagerTaskRuntime().hooks


def test_providers_manager_registers_the_connection_type():
    from airflow.providers_manager import ProvidersManager

    assert ProvidersManager().providers["craft-airflow"].version == "0.1.0"
    hook = task_runtime_hooks()["craftai"]
    assert hook is not None and hook.hook_class_name == "craft_airflow.hooks.craft.CraftAIHook"
    assert "craft_ai" not in task_runtime_hooks()  # the type of an unreleased version


# A fresh interpreter, as an API server starting: the providers manager caches what it imported.
UI_FORM_SCRIPT = """
import json
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
(form,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "craftai"]
print(json.dumps(form.model_dump(mode="json")))
"""


def test_the_ui_serves_the_connection_form():
    """Airflow 3.3 builds the form from get_provider_info(); Airflow 3.1 only from the hook's
    get_connection_form_widgets() and get_ui_field_behaviour(). Either way the UI shows this."""
    done = subprocess.run(
        [sys.executable, "-c", UI_FORM_SCRIPT], capture_output=True, text=True, check=True
    )
    form = json.loads(done.stdout.strip().splitlines()[-1])
    assert form["hook_class_name"] == "craft_airflow.hooks.craft.CraftAIHook"
    extras = form["extra_fields"]
    assert set(extras) == set(EXTRA_KEYS)
    assert extras["control_url"]["schema"]["title"] == "Control URL"
    secrets = {n for n, f in extras.items() if f["schema"].get("format") == "password"}
    assert secrets == {"endpoint_token", "endpoint_tokens"}
    if Version("3.3") <= AIRFLOW_VERSION:
        # 3.1's form is built from the hook's widgets: text fields, no examples.
        assert extras["control_url"]["schema"]["examples"] == ["https://mlops-platform.craft.ai"]
        assert extras["endpoints"]["schema"]["type"] == ["array", "null"]
    fields = form["standard_fields"]
    assert fields["host"]["title"] == "Environment URL"
    assert fields["password"]["title"] == "SDK token" and not fields["password"]["hidden"]
    assert fields["login"]["hidden"]


def test_airflow_cli_lists_the_provider_and_link():
    airflow_bin = Path(sys.executable).parent / "airflow"
    listed = subprocess.run(
        [str(airflow_bin), "providers", "get", "craft-airflow", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "craft-airflow" in listed.stdout


@pytest.mark.parametrize("module_name", INFO["filesystems"])
def test_declared_filesystems_have_schemes_and_get_fs(module_name):
    module = importlib.import_module(module_name)
    assert module.schemes
    assert callable(module.get_fs)
