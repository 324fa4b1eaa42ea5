"""Every argument a Craft operator's or sensor's docstring documents is in its signature, and
every argument of its signature is documented."""

from __future__ import annotations

import inspect
import re

import pytest

from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator
from craft_airflow.operators.pipeline import CraftRunPipelineOperator
from craft_airflow.sensors.execution import CraftExecutionSensor

TASKS = (CraftRunPipelineOperator, CraftTriggerEndpointOperator, CraftExecutionSensor)


def documented(cls: type) -> list[str]:
    return re.findall(r":param (\w+):", inspect.getdoc(cls) or "")


def accepted(cls: type) -> set[str]:
    parameters = inspect.signature(cls.__init__).parameters.values()
    return {p.name for p in parameters if p.kind == p.KEYWORD_ONLY}


@pytest.mark.parametrize("cls", TASKS, ids=lambda cls: cls.__name__)
def test_every_documented_argument_is_in_the_signature(cls):
    assert documented(cls), f"{cls.__name__} documents no argument"
    assert [name for name in documented(cls) if name not in accepted(cls)] == []


@pytest.mark.parametrize("cls", TASKS, ids=lambda cls: cls.__name__)
def test_every_argument_of_the_signature_is_documented(cls):
    assert sorted(accepted(cls) - set(documented(cls))) == []
