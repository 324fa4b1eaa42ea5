"""Assets fed by a Craft task's outputs (data-aware scheduling).

``output_assets={"report": Asset(...)}`` on an operator says which output feeds which asset.
The assets join the task's ``outlets``, so the scheduler knows the DAGs scheduled on them; when
the execution succeeded, the task sets each asset event's extra to

``{"execution_id": …, "output_name": …, "uri": …, "datastore_path": …}``

``uri`` is where the output is: the stored file's URI for a file output, ``craft://<conn_id>@/
<path>`` for an output the run sends to the data store (then ``datastore_path`` is that path);
both are left out for other outputs. An :class:`~airflow.sdk.AssetAlias` value gets, at run
time, the asset named by the output's ``uri`` (an output without one is an error). Asset outlets
of a Craft task that feed no output get ``{"execution_id": …}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow.sdk import Asset, AssetAlias

from craft_airflow.errors import CraftInputError

#: ``{output name: {"uri": …, "datastore_path": …}}``: where each output of an execution is.
Locations = Mapping[str, Mapping[str, str]]


def check_output_assets(value: Any) -> dict[str, Any]:
    """``output_assets`` as a dict of output name -> ``Asset`` or ``AssetAlias``.

    :raises CraftInputError: naming the entry that is not of that form.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CraftInputError(
            "output_assets: expected a dict of output name -> Asset (or AssetAlias), got "
            f"{type(value).__name__}: {value!r:.80}"
        )
    for name, asset in value.items():
        if not isinstance(name, str) or not name:
            raise CraftInputError(f"output_assets: keys must be output names, got {name!r}")
        if not isinstance(asset, Asset | AssetAlias):
            raise CraftInputError(
                f"output_assets[{name!r}]: expected an Asset or AssetAlias, got "
                f"{type(asset).__name__}: {asset!r:.80}"
            )
    return dict(value)


def outlets_with(outlets: Any, output_assets: Mapping[str, Any]) -> list[Any]:
    """``outlets`` (a list, one object or ``None``) followed by the ``output_assets`` values
    not already in it."""
    if outlets is None:
        result: list[Any] = []
    elif isinstance(outlets, list | tuple):
        result = list(outlets)
    else:
        result = [outlets]
    for asset in output_assets.values():
        if asset not in result:
            result.append(asset)
    return result


def check_output_names(output_assets: Mapping[str, Any], outputs: Iterable[str], what: str) -> None:
    """Every key of ``output_assets`` is among ``outputs``.

    :param what: what the outputs belong to, for the message.
    """
    known = set(outputs)
    unknown = sorted(set(output_assets) - known)
    if unknown:
        raise CraftInputError(
            f"output_assets: {what} has no output {', '.join(map(repr, unknown))} "
            f"(outputs: {', '.join(sorted(known)) or 'none'})"
        )


def output_locations(
    stored: Mapping[str, str], datastore: Mapping[str, str], *, conn_id: str
) -> dict[str, dict[str, str]]:
    """Where each output is, for the asset events.

    :param stored: ``{output name: URI}`` of the file outputs the task stored.
    :param datastore: ``{output name: data-store path}`` (placeholders resolved) of the
        outputs the run sent to the data store.
    """
    from craft_airflow.lineage import datastore_uri  # when the task runs: see operators/_base.py

    locations: dict[str, dict[str, str]] = {name: {"uri": uri} for name, uri in stored.items()}
    for name, path in datastore.items():
        locations[name] = {"uri": datastore_uri(conn_id, path, None), "datastore_path": path}
    return locations


def record_asset_events(
    outlet_events: Any,
    outlets: Iterable[Any],
    output_assets: Mapping[str, Any],
    *,
    execution_id: str,
    outputs: Mapping[str, Any],
    locations: Locations,
) -> None:
    """Set the extra of the asset events the task emits on success (see the module doc).

    :param outlet_events: the task context's ``outlet_events``.
    :raises CraftInputError: an ``output_assets`` name the execution did not return, or an
        ``AssetAlias`` for an output without a location.
    """
    check_output_names(output_assets, outputs, f"execution {execution_id}")
    fed = []
    for name, target in output_assets.items():
        extra = {"execution_id": execution_id, "output_name": name, **locations.get(name, {})}
        if isinstance(target, AssetAlias):
            uri = extra.get("uri")
            if uri is None:
                raise CraftInputError(
                    f"output_assets[{name!r}]: an AssetAlias needs an output with a location "
                    "(a file output or a data-store output); output "
                    f"{name!r} of execution {execution_id} has none"
                )
            outlet_events[target].add(Asset(uri=uri), extra=extra)
        else:
            outlet_events[target].extra.update(extra)
        fed.append(target)
    for outlet in outlets:
        if isinstance(outlet, Asset) and outlet not in fed:
            outlet_events[outlet].extra.update({"execution_id": execution_id})
