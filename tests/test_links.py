"""The "Craft AI execution" extra link."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from craft_airflow.links import CraftExecutionLink, persist_execution_link
from craft_airflow.names import EXECUTION_URL_XCOM_KEY


class RecordingTI(SimpleNamespace):
    def xcom_push(self, key, value):
        self.pushed = (key, value)


def test_name_and_xcom_key():
    link = CraftExecutionLink()
    assert link.name == "Craft AI execution"
    assert link.xcom_key == "_link_CraftExecutionLink"


def test_persist_stores_the_url_and_skips_none():
    ti = RecordingTI()
    persist_execution_link({"ti": ti}, "https://ui/executions/x")  # type: ignore[arg-type]
    assert ti.pushed == (EXECUTION_URL_XCOM_KEY, "https://ui/executions/x")
    ti = RecordingTI()
    persist_execution_link({"ti": ti}, None)  # type: ignore[arg-type]
    assert not hasattr(ti, "pushed")


@pytest.mark.parametrize(("url", "expected"), [("https://ui/e/1", "https://ui/e/1"), (None, "")])
def test_get_link_answers_the_url_the_operator_holds(url, expected):
    operator = SimpleNamespace(craft_execution_url=url)
    assert CraftExecutionLink().get_link(operator, ti_key="the-ti-key") == expected  # type: ignore[arg-type]


def test_get_link_without_an_execution_is_empty():
    assert CraftExecutionLink().get_link(SimpleNamespace(), ti_key="k") == ""  # type: ignore[arg-type]
