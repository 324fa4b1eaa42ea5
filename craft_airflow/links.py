"""Extra link from a Craft task to its execution's page in the Craft AI web UI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

#: XCom key holding the execution's URL, written as soon as the execution exists.
EXECUTION_URL_XCOM_KEY = "craft_execution_url"


class CraftExecutionLink(BaseOperatorLink):
    """Opens the Craft AI execution started (or followed) by the task."""

    name = "Craft AI execution"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        # Imported here: the XCom backend pulls in the task-runner machinery.
        from airflow.providers.common.compat.sdk import XCom

        url = XCom.get_value(key=EXECUTION_URL_XCOM_KEY, ti_key=ti_key)
        return url if isinstance(url, str) else ""


def persist_execution_link(context: Context, url: str | None) -> None:
    """Store the execution's URL for :class:`CraftExecutionLink`; no URL, no link."""
    if url:
        ti: Any = context["ti"]
        ti.xcom_push(key=EXECUTION_URL_XCOM_KEY, value=url)
