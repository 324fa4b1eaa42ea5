"""What a Craft task tells OpenLineage: the job (pipeline or deployment, environment), the
execution (id, status, error message) and the datasets it read and wrote.

Plain functions from what the task resolved (the file sources it was given, the execution's
record, the outputs it collected, the outcome of its wait) to :class:`DatasetName` and
:class:`TaskLineage`; only :func:`operator_lineage` imports OpenLineage, so the provider works
without the OpenLineage provider installed.

Datasets are named by OpenLineage's naming conventions, as the Airflow providers name them:

=============================================  ==========================  ==================
location                                        namespace                   name
=============================================  ==========================  ==================
local path, ``file:///data/x.csv``              ``file``                    ``/data/x.csv``
``s3://bucket/key``, ``gs://…``, any            ``s3://bucket``             ``key``
``scheme://authority/path``
data-store object ``p`` of the environment      ``craft://host[:port]``     ``p``
``https://host[:port]`` (also ``craft://conn@/p``)
=============================================  ==========================  ==================

The data store's namespace is the environment's host, not the Airflow connection id: each
environment has its own store, and two connections to one environment name the same datasets.
A data-store path's ``{execution_id}`` placeholder is replaced; ``{date}`` and ``{date_time}``
(the platform's clock) stay as written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from airflow.sdk import ObjectStoragePath

from craft_airflow.names import DEFAULT_CONN_ID
from craft_airflow.protocol.outcomes import OutcomeStatus, WaitOutcome

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

#: Scheme of data-store paths (``craft://<conn_id>@/<path>``) and of the data store's namespace.
DATASTORE_SCHEME = "craft"
#: The run facet's key in an OpenLineage event.
RUN_FACET = "craftAiExecution"
#: The job facet's key in an OpenLineage event.
JOB_FACET = "craftAiJob"

#: Outcomes whose run facet carries the error message.
_UNFINISHED_OR_FAILED = frozenset(
    {OutcomeStatus.FAILED, OutcomeStatus.TIMEOUT, OutcomeStatus.ERROR}
)
#: Finds the environment URL of another ``craft_ai`` connection (for its ``craft://`` paths).
EnvironmentOf = Callable[[str], "str | None"]


@dataclass(frozen=True)
class DatasetName:
    """An OpenLineage dataset identifier."""

    namespace: str
    name: str


@dataclass(frozen=True)
class ExecutionIO:
    """Which inputs and outputs of an execution are files or data-store objects.

    :param file_inputs: names the task passes file inputs under (endpoint input names for an
        endpoint execution), ``None`` when not known.
    :param datastore_inputs: data-store paths the platform read inputs from.
    :param datastore_outputs: data-store paths by output name, placeholders as mapped.
    """

    file_inputs: frozenset[str] | None = None
    datastore_inputs: tuple[str, ...] = ()
    datastore_outputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskLineage:
    """Everything a Craft task reports, before it becomes OpenLineage objects.

    :param environment_url: the environment the execution ran in.
    :param pipeline_name: the pipeline, when known.
    :param deployment_name: the endpoint deployment, when the execution came from one.
    :param execution_id: the execution, once one exists.
    :param execution_url: the execution's page (the extra link).
    :param status: the platform's last known status of the execution.
    :param outcome: how the task's wait ended (``None`` when it did not wait).
    :param metrics: the execution's metrics, when the task read them.
    """

    environment_url: str
    pipeline_name: str | None = None
    deployment_name: str | None = None
    execution_id: str | None = None
    execution_url: str | None = None
    status: str | None = None
    outcome: WaitOutcome | None = None
    inputs: tuple[DatasetName, ...] = ()
    outputs: tuple[DatasetName, ...] = ()
    metrics: Mapping[str, Any] | None = None


# -- naming ----------------------------------------------------------------------------------


def datastore_namespace(environment_url: str) -> str:
    """``craft://host[:port]`` of an environment URL."""
    parts = urlsplit(environment_url)
    return f"{DATASTORE_SCHEME}://{parts.netloc or parts.path.strip('/')}"


def resolve_datastore_path(path: str, execution_id: str | None) -> str:
    """A mapping's data-store path as an object key: the ``craft://<conn_id>@`` prefix and the
    leading ``/`` dropped, ``{execution_id}`` replaced when known."""
    if path.startswith(f"{DATASTORE_SCHEME}:"):
        path = urlsplit(path).path
    if execution_id:
        path = path.replace("{execution_id}", execution_id)
    return path.strip("/")


def datastore_dataset(environment_url: str, path: str, execution_id: str | None) -> DatasetName:
    """The dataset of a data-store object of the environment at ``environment_url``."""
    return DatasetName(
        datastore_namespace(environment_url), resolve_datastore_path(path, execution_id)
    )


def datastore_uri(conn_id: str, path: str, execution_id: str | None) -> str:
    """``craft://<conn_id>@/<path>``: a data-store object as an ``ObjectStoragePath`` URI."""
    return f"{DATASTORE_SCHEME}://{conn_id}@/{resolve_datastore_path(path, execution_id)}"


def location_of(value: Any) -> str | None:
    """The storage location of a file source: a URI, an absolute local path, or ``None`` for
    sources that have none (bytes, streams)."""
    if isinstance(value, ObjectStoragePath):
        return str(value)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        return None
    if "://" in value:
        return value
    return os.path.abspath(os.path.expanduser(value))


def location_dataset(
    location: str, *, environment_of: EnvironmentOf | None = None
) -> DatasetName | None:
    """The dataset of a storage location (local path or URI); ``None`` for a ``craft://`` path
    whose environment cannot be found."""
    if "://" not in location:
        return DatasetName("file", os.path.abspath(location))
    parts = urlsplit(location)
    scheme = parts.scheme.lower()
    if scheme == "file":
        path = unquote(parts.path) or "/"
        return DatasetName(f"file://{parts.netloc}" if parts.netloc else "file", path)
    if scheme == DATASTORE_SCHEME:
        conn_id = parts.username or DEFAULT_CONN_ID
        environment = environment_of(conn_id) if environment_of else None
        if environment is None:
            return None
        return datastore_dataset(environment, unquote(parts.path), None)
    return DatasetName(f"{scheme}://{parts.netloc}", unquote(parts.path).lstrip("/") or "/")


# -- what the task resolved ------------------------------------------------------------------


def execution_io(execution: Mapping[str, Any]) -> ExecutionIO:
    """File inputs and data-store mappings from an execution object (contract §5.3)."""
    file_inputs: set[str] = set()
    datastore_inputs: list[str] = []
    for item in execution.get("inputs") or ():
        mapping = item.get("mapping_value") or {}
        kind = item.get("mapping_type")
        if kind == "datastore" and mapping.get("datastore_path"):
            datastore_inputs.append(str(mapping["datastore_path"]))
        elif item.get("data_type") == "file" and kind in ("run", "endpoint"):
            name = mapping.get("endpoint_input_name") or item.get("pipeline_input_name")
            if name:
                file_inputs.add(str(name))
    datastore_outputs = {
        str(item.get("pipeline_output_name")): str(mapping["datastore_path"])
        for item in execution.get("outputs") or ()
        if item.get("mapping_type") == "datastore"
        and (mapping := item.get("mapping_value") or {}).get("datastore_path")
    }
    return ExecutionIO(frozenset(file_inputs), tuple(datastore_inputs), datastore_outputs)


def mappings_io(
    inputs_mapping: Iterable[Any] | None, outputs_mapping: Iterable[Any] | None
) -> ExecutionIO:
    """Data-store paths of a run's own mappings (``InputSource``/``OutputDestination`` or
    dicts); file inputs unknown."""

    def datastore_paths(mapping: Iterable[Any] | None, name_key: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for entry in mapping or ():
            item = entry.to_dict() if hasattr(entry, "to_dict") else entry
            if isinstance(item, Mapping) and item.get("datastore_path"):
                found[str(item.get(name_key))] = str(item["datastore_path"])
        return found

    return ExecutionIO(
        None,
        tuple(datastore_paths(inputs_mapping, "pipeline_input_name").values()),
        datastore_paths(outputs_mapping, "pipeline_output_name"),
    )


def is_located_file(value: Any) -> bool:
    """Whether ``value`` can only be a file with a location (a path object or storage path);
    a plain string is a file only where the execution or the task says so."""
    return isinstance(value, os.PathLike | ObjectStoragePath)


def file_input_locations(
    sources: Mapping[str, Any],
    file_inputs: frozenset[str] | None,
    known_files: frozenset[str] = frozenset(),
) -> list[str]:
    """Locations of the file inputs among ``sources`` (the task's inputs by name).

    :param file_inputs: the names the execution takes files under; ``None`` when unknown,
        then path objects and storage paths count as files.
    :param known_files: names the task itself knows are files (the endpoint's ``files``).
    """
    locations = []
    for name, value in sources.items():
        if name in known_files:
            is_file = True
        elif file_inputs is not None:
            is_file = name in file_inputs
        else:
            is_file = is_located_file(value)
        location = location_of(value) if is_file else None
        if location is not None:
            locations.append(location)
    return locations


def stored_output_locations(
    outputs: Mapping[str, Any] | None, output_dir: str | None
) -> dict[str, str]:
    """``{output name: URI}`` of the file outputs the task stored below ``output_dir``."""
    if not outputs or not output_dir:
        return {}
    prefix = output_dir.rstrip("/") + "/"
    return {
        name: value
        for name, value in outputs.items()
        if isinstance(value, str) and value.startswith(prefix)
    }


def task_lineage(
    *,
    environment_url: str,
    pipeline_name: str | None,
    deployment_name: str | None,
    execution_id: str | None,
    execution_url: str | None,
    status: str | None,
    outcome: WaitOutcome | None,
    io: ExecutionIO,
    file_sources: Mapping[str, Any],
    known_files: frozenset[str],
    outputs: Mapping[str, Any] | None,
    output_dir: str | None,
    metrics: Mapping[str, Any] | None = None,
    environment_of: EnvironmentOf | None = None,
) -> TaskLineage:
    """A task's lineage from what it resolved: file inputs' and stored file outputs' locations
    and the data-store objects of its mappings as datasets (each once, in order).

    :param io: from the execution's record (:func:`execution_io`) or the task's own mappings
        (:func:`mappings_io`).
    :param file_sources: the task's inputs by name (see :func:`file_input_locations`).
    :param outputs: the outputs the task collected (``None`` if it collected none: it did not
        wait, or the execution failed; it then reports no output datasets); ``output_dir``
        where it stored files.
    """

    def unique(names: Iterable[DatasetName | None]) -> tuple[DatasetName, ...]:
        return tuple(dict.fromkeys(n for n in names if n is not None))

    file_locations = file_input_locations(file_sources, io.file_inputs, known_files)
    stored = stored_output_locations(outputs, output_dir).values()
    inputs = unique(
        [
            *(location_dataset(x, environment_of=environment_of) for x in file_locations),
            *(datastore_dataset(environment_url, p, execution_id) for p in io.datastore_inputs),
        ]
    )
    output_datasets = (
        unique(
            [
                *(location_dataset(x, environment_of=environment_of) for x in stored),
                *(
                    datastore_dataset(environment_url, p, execution_id)
                    for p in io.datastore_outputs.values()
                ),
            ]
        )
        if outputs is not None
        else ()
    )
    return TaskLineage(
        environment_url=environment_url,
        pipeline_name=pipeline_name,
        deployment_name=deployment_name,
        execution_id=execution_id,
        execution_url=execution_url,
        status=status,
        outcome=outcome,
        inputs=inputs,
        outputs=output_datasets,
        metrics=metrics,
    )


# -- OpenLineage -----------------------------------------------------------------------------


def operator_lineage(lineage: TaskLineage) -> OperatorLineage[Any, Any]:
    """The ``OperatorLineage`` the OpenLineage listener emits for a Craft task.

    Job facet :data:`JOB_FACET`; run facets :data:`RUN_FACET` and the standard
    ``externalQuery`` (the execution id, the environment as source) once an execution exists.
    """
    from airflow.providers.common.compat.openlineage.facet import (
        Dataset,
        ExternalQueryRunFacet,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage

    from craft_airflow.lineage_facets import CraftExecutionRunFacet, CraftJobFacet

    run_facets: dict[str, Any] = {}
    if lineage.execution_id is not None:
        outcome = lineage.outcome
        failed = outcome is not None and outcome.status in _UNFINISHED_OR_FAILED
        status = lineage.status
        if status is None and outcome is not None and outcome.execution_status is not None:
            status = str(outcome.execution_status)
        run_facets[RUN_FACET] = CraftExecutionRunFacet(
            executionId=lineage.execution_id,
            status=status,
            outcome=str(outcome.status) if outcome is not None else None,
            errorMessage=outcome.failure_text() if failed and outcome is not None else None,
            executionUrl=lineage.execution_url,
            metrics=dict(lineage.metrics) if lineage.metrics is not None else None,
        )
        run_facets["externalQuery"] = ExternalQueryRunFacet(
            externalQueryId=lineage.execution_id, source=lineage.environment_url
        )
    job_facets = {
        JOB_FACET: CraftJobFacet(
            environmentUrl=lineage.environment_url,
            pipelineName=lineage.pipeline_name,
            deploymentName=lineage.deployment_name,
        )
    }
    return OperatorLineage(
        inputs=[Dataset(namespace=d.namespace, name=d.name) for d in lineage.inputs],
        outputs=[Dataset(namespace=d.namespace, name=d.name) for d in lineage.outputs],
        run_facets=run_facets,
        job_facets=job_facets,
    )
