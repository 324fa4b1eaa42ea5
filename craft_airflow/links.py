"""Extra link from a Craft task to its execution's page in the Craft AI web UI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

from craft_airflow.names import EXECUTION_URL_XCOM_KEY

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey


class CraftExecutionLink(BaseOperatorLink):
    """Opens the Craft AI execution started (or followed) by the task.

    The task pushes the URL under :attr:`xcom_key` as soon as the execution exists, so the link
    works while the task waits. When the task ends, Airflow calls :meth:`get_link` on the worker
    and stores its answer under the same key: the operator still holds the URL then, and a task
    that failed before any execution existed simply has no link (no XCom read, no error logged).
    """

    name = "Craft AI execution"

    @property
    def xcom_key(self) -> str:
        """:data:`~craft_airflow.names.EXECUTION_URL_XCOM_KEY` (Airflow's default key)."""
        return EXECUTION_URL_XCOM_KEY

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return getattr(operator, "craft_execution_url", None) or ""


def persist_execution_link(context: Context, url: str | None) -> None:
    """Store the execution's URL for :class:`CraftExecutionLink`; no URL, no link."""
    if url:
        ti: Any = context["ti"]
        ti.xcom_push(key=EXECUTION_URL_XCOM_KEY, value=url)
