"""craft_airflow.assets: output_assets checked, joined to outlets, and the asset events' extra
set on Airflow's own outlet event accessors."""

from __future__ import annotations

import pytest
from airflow.sdk import Asset, AssetAlias
from airflow.sdk.execution_time.context import OutletEventAccessors

from craft_airflow.assets import (
    check_output_assets,
    outlets_with,
    output_locations,
    record_asset_events,
)
from craft_airflow.errors import CraftInputError
from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator
from craft_airflow.operators.pipeline import CraftRunPipelineOperator

REPORT = Asset(name="report", uri="s3://bucket/reports/latest")
UPPER = Asset(name="upper", uri="craft://craft_ai_default@/out/upper.txt")
OTHER = Asset(name="other")
STORED = "file:///home/craft_outputs/dag/run/task/exec-1/report"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([REPORT], "output_assets: expected a dict of output name -> Asset"),
        ({"report": "s3://bucket/x"}, "output_assets['report']: expected an Asset or AssetAlias"),
        ({"": REPORT}, "output_assets: keys must be output names"),
    ],
)
def test_bad_output_assets_name_the_field(value, message):
    with pytest.raises(CraftInputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_output_assets(value)


def test_output_assets_join_outlets_once():
    assert outlets_with(None, {"a": REPORT}) == [REPORT]
    assert outlets_with(OTHER, {"a": REPORT}) == [OTHER, REPORT]
    assert outlets_with([REPORT, OTHER], {"a": REPORT}) == [REPORT, OTHER]


def test_operators_add_output_assets_to_outlets_and_check_them():
    run = CraftRunPipelineOperator(
        task_id="run", pipeline_name="p", outlets=[OTHER], output_assets={"report": REPORT}
    )
    assert run.outlets == [OTHER, REPORT]
    assert run.output_assets == {"report": REPORT}
    endpoint = CraftTriggerEndpointOperator(
        task_id="e", endpoint_name="e", output_assets={"upper": UPPER}
    )
    assert endpoint.outlets == [UPPER]
    with pytest.raises(CraftInputError, match="output_assets"):
        CraftRunPipelineOperator(task_id="bad", pipeline_name="p", output_assets={"x": 1})


def record(output_assets, outlets, outputs, locations):
    events = OutletEventAccessors()
    record_asset_events(
        events,
        outlets,
        output_assets,
        execution_id="exec-1",
        outputs=outputs,
        locations=locations,
    )
    return events


def test_extra_carries_execution_output_and_location():
    locations = output_locations(
        {"report": STORED}, {"upper": "out/upper.txt"}, conn_id="craft_ai_default"
    )
    events = record(
        {"report": REPORT, "upper": UPPER},
        [REPORT, UPPER, OTHER],
        {"report": STORED, "upper": None, "words": 3},
        locations,
    )
    assert events[REPORT].extra == {
        "execution_id": "exec-1",
        "output_name": "report",
        "uri": STORED,
    }
    assert events[UPPER].extra == {
        "execution_id": "exec-1",
        "output_name": "upper",
        "uri": "craft://craft_ai_default@/out/upper.txt",
        "datastore_path": "out/upper.txt",
    }
    # An outlet fed by no output still says which execution ended.
    assert events[OTHER].extra == {"execution_id": "exec-1"}


def test_an_output_without_location_feeds_an_asset_without_uri():
    events = record({"words": REPORT}, [REPORT], {"words": 3}, {})
    assert events[REPORT].extra == {"execution_id": "exec-1", "output_name": "words"}


def test_an_alias_gets_the_asset_at_the_output_location():
    alias = AssetAlias("craft-reports")
    events = record({"report": alias}, [alias], {"report": STORED}, {"report": {"uri": STORED}})
    (alias_event,) = events[alias].asset_alias_events
    assert alias_event.source_alias_name == "craft-reports"
    assert alias_event.dest_asset_key.uri == STORED
    assert alias_event.extra == {"execution_id": "exec-1", "output_name": "report", "uri": STORED}


def test_an_alias_needs_a_location():
    alias = AssetAlias("craft-words")
    with pytest.raises(CraftInputError, match=r"output_assets\['words'\]: an AssetAlias needs"):
        record({"words": alias}, [alias], {"words": 3}, {})


def test_an_output_the_execution_did_not_return_fails():
    with pytest.raises(
        CraftInputError, match=r"execution exec-1 has no output 'reprot' \(outputs: report\)"
    ):
        record({"reprot": REPORT}, [REPORT], {"report": STORED}, {})
