"""The provider's own OpenLineage facets; imported only by :func:`craft_airflow.lineage.
operator_lineage`, because it needs ``openlineage-python`` (installed with the OpenLineage
provider).

They validate against OpenLineage's base ``RunFacet`` / ``JobFacet`` schemas (their
``_schemaURL``); their fields are described in the README ("Lineage").
"""

from __future__ import annotations

from typing import Any

import attr
from openlineage.client.facet_v2 import JobFacet, RunFacet


@attr.define
class CraftJobFacet(JobFacet):
    """What a Craft task runs: a pipeline, or an endpoint deployment (and its pipeline), and
    in which environment."""

    environmentUrl: str
    pipelineName: str | None = attr.field(default=None)
    deploymentName: str | None = attr.field(default=None)


@attr.define
class CraftExecutionRunFacet(RunFacet):
    """The Craft execution behind a task run.

    ``status`` is the platform's (``Succeeded``, ``Failed``…), ``outcome`` how the task's wait
    ended (``success``, ``failed``, ``timeout``, ``error``, ``skipped``), ``errorMessage`` the
    platform's message and the last log lines when the execution failed or was not followed to
    its end, ``metrics`` the metrics the execution recorded (``{name: number}``, lists for list
    metrics) when the task read them.
    """

    executionId: str
    status: str | None = attr.field(default=None)
    outcome: str | None = attr.field(default=None)
    errorMessage: str | None = attr.field(default=None)
    executionUrl: str | None = attr.field(default=None)
    metrics: dict[str, Any] | None = attr.field(default=None)
