"""An execution's metrics (§9.1), as a generator of steps (no I/O), and picking the ones a DAG
asked for.

Pipeline code records single-value metrics (the last value is kept) and list metrics (values
appended); both are read by execution, in pages, and returned as one mapping: a single-value
metric's name to its number, a list metric's name to its list of numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from craft_airflow.errors import CraftAPIError, CraftError
from craft_airflow.protocol.builders import build_get_execution, build_get_metrics
from craft_airflow.protocol.calls import CallContext, Steps, call_json
from craft_airflow.protocol.readers import read_metrics

#: The two kinds of metrics, as the routes name them, and the field holding each one's value.
METRIC_KINDS = (("single-value", "value"), ("list-values", "values"))
#: Metrics asked for per call (the SDK's page).
METRICS_PAGE = 5000
#: Pages read at most per kind.
MAX_METRIC_PAGES = 20

Metrics = dict[str, Any]


def execution_metrics_steps(
    ctx: CallContext, execution_id: str, *, check_execution: bool = False
) -> Steps[Metrics]:
    """The metrics of ``execution_id``: ``{name: number}`` and ``{name: [numbers]}``.

    :param check_execution: first read the execution, so that an unknown id is an error naming
        it (a read filtered by an unknown execution answers an empty list).
    :raises CraftError: ``check_execution`` and the platform has no such execution.
    """
    if check_execution:
        try:
            yield from call_json(ctx, build_get_execution(ctx.config, execution_id))
        except CraftAPIError as err:
            if err.status_code != 404:
                raise
            raise CraftError(
                f"Execution {execution_id!r} does not exist on {ctx.config.environment_url}:"
                " expected the id of an execution of this environment (the 'execution_id'"
                " XCom of the Craft task that started it)."
            ) from None
    metrics: Metrics = {}
    for kind, field in METRIC_KINDS:
        seen = 0
        for page in range(1, MAX_METRIC_PAGES + 1):
            request = build_get_metrics(
                ctx.config, kind, execution_id, page=page, items_per_page=METRICS_PAGE
            )
            items, total = read_metrics((yield from call_json(ctx, request)))
            for item in items:
                if item.get("execution_id", execution_id) == execution_id:
                    metrics[item["name"]] = item.get(field)
            seen += len(items)
            if not items or seen >= total:
                break
    return metrics


def select_metrics(metrics: Metrics, names: Iterable[str] | None, execution_id: str) -> Metrics:
    """The metrics named ``names`` (all when ``None``).

    :raises CraftError: a name the execution recorded no metric under, with the names it did.
    """
    if names is None:
        return dict(metrics)
    wanted = [names] if isinstance(names, str) else list(names)
    missing = [name for name in wanted if name not in metrics]
    if missing:
        recorded = ", ".join(repr(n) for n in sorted(metrics)) or "none"
        raise CraftError(
            f"Execution {execution_id!r} recorded no metric named"
            f" {', '.join(repr(n) for n in missing)}: expected one of the metrics it recorded"
            f" ({recorded})."
        )
    return {name: metrics[name] for name in wanted}
