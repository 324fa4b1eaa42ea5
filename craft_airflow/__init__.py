"""Apache Airflow provider for the Craft AI MLOps platform.

The public classes are importable from here; each is imported on first access, so that
``import craft_airflow`` (done by Airflow's providers manager) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
#: How the provider's transports name themselves to the platform (header ``craft-ai-client``).
CLIENT_ID = f"craft-airflow@{__version__}"

_EXPORTS: dict[str, str] = {
    "CraftAIHook": "craft_airflow.hooks.craft",
    "CraftAIAsyncHook": "craft_airflow.hooks.craft_async",
    "CraftRunPipelineOperator": "craft_airflow.operators.pipeline",
    "CraftTriggerEndpointOperator": "craft_airflow.operators.endpoint",
    "CraftExecutionSensor": "craft_airflow.sensors.execution",
    "CraftExecutionTrigger": "craft_airflow.triggers.execution",
    "CraftExecutionLink": "craft_airflow.links",
    "InputSource": "craft_airflow.inputs.mappings",
    "OutputDestination": "craft_airflow.inputs.mappings",
}

__all__ = ["CLIENT_ID", "__version__", *_EXPORTS]

if TYPE_CHECKING:
    from craft_airflow.hooks.craft import CraftAIHook as CraftAIHook
    from craft_airflow.hooks.craft_async import CraftAIAsyncHook as CraftAIAsyncHook
    from craft_airflow.inputs.mappings import InputSource as InputSource
    from craft_airflow.inputs.mappings import OutputDestination as OutputDestination
    from craft_airflow.links import CraftExecutionLink as CraftExecutionLink
    from craft_airflow.operators.endpoint import (
        CraftTriggerEndpointOperator as CraftTriggerEndpointOperator,
    )
    from craft_airflow.operators.pipeline import (
        CraftRunPipelineOperator as CraftRunPipelineOperator,
    )
    from craft_airflow.sensors.execution import CraftExecutionSensor as CraftExecutionSensor
    from craft_airflow.triggers.execution import CraftExecutionTrigger as CraftExecutionTrigger


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'craft_airflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
