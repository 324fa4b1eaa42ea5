"""Provider registration: schema, names, connection form, what Airflow sees."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import airflow
import jsonschema
import pytest

from craft_airflow.connection import EXTRA_KEYS
from craft_airflow.get_provider_info import get_provider_info

INFO = get_provider_info()
CONNECTION = INFO["connection-types"][0]


def test_valid_against_airflow_provider_info_schema():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(INFO, schema)


def test_package_name_is_the_distribution_name():
    dist = distribution("craft-airflow")
    assert INFO["package-name"] == "craft-airflow" == dist.metadata["Name"]
    (entry_point,) = [ep for ep in dist.entry_points if ep.group == "apache_airflow_provider"]
    assert entry_point.value == "craft_airflow.get_provider_info:get_provider_info"


def test_connection_form_covers_every_extra():
    assert CONNECTION["connection-type"] == "craft_ai"
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


def test_providers_manager_registers_the_connection_form():
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManager()
    assert manager.providers["craft-airflow"].version == "0.1.0"
    hook = ProvidersManagerTaskRuntime().hooks["craft_ai"]
    assert hook is not None and hook.hook_class_name == "craft_airflow.hooks.craft.CraftAIHook"
    widgets = manager.connection_form_widgets
    assert widgets["extra__craft_ai__endpoint_token"].is_sensitive
    assert not widgets["extra__craft_ai__control_url"].is_sensitive
    assert manager.field_behaviours["craft_ai"]["relabeling"]["host"] == "Environment URL"


def test_airflow_cli_lists_the_provider_and_link():
    airflow_bin = Path(sys.executable).parent / "airflow"
    listed = subprocess.run(
        [str(airflow_bin), "providers", "get", "craft-airflow", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "craft-airflow" in listed.stdout
