"""The "Craft AI execution" extra link."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from craft_airflow.links import EXECUTION_URL_XCOM_KEY, CraftExecutionLink, persist_execution_link


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


@pytest.mark.parametrize(("stored", "expected"), [("https://ui/e/1", "https://ui/e/1"), (None, "")])
def test_get_link_reads_the_stored_url(monkeypatch, stored, expected):
    from airflow.providers.common.compat.sdk import XCom

    seen = {}

    def get_value(*, ti_key, key, map_index=None):
        seen.update(ti_key=ti_key, key=key)
        return stored

    monkeypatch.setattr(XCom, "get_value", get_value)
    assert CraftExecutionLink().get_link(None, ti_key="the-ti-key") == expected  # type: ignore[arg-type]
    assert seen == {"ti_key": "the-ti-key", "key": EXECUTION_URL_XCOM_KEY}
