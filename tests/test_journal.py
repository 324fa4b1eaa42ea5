"""craft_airflow.journal: the intent and the id a try records, and what a retry makes of them."""

from __future__ import annotations

from typing import Any

from craft_airflow.journal import CreationJournal, IntentRecord, unresolved_intent
from craft_airflow.names import CREATION_INTENT_STATE_KEY, EXECUTION_ID_STATE_KEY
from craft_airflow.protocol.adoption import CreationIntent, input_digests


class Store(dict):
    """Airflow's task state store, as the journal uses it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[str] = []

    def set(self, key: str, value: Any) -> None:  # type: ignore[override]
        self.writes.append(key)
        self[key] = value


INTENT = CreationIntent("run", pipeline_name="p", inputs={"n": 3, "s": "x"})


def record(replaces: str | None = None, since: float = 1000.0) -> dict[str, Any]:
    return IntentRecord(since, INTENT, replaces).to_json()


def test_the_record_keeps_digests_not_values_and_reads_back():
    value = record("old")
    assert value["inputs"] == input_digests({"n": 3, "s": "x"})
    assert "x" not in str(value["inputs"].values())
    back = IntentRecord.from_json(value)
    assert back is not None
    assert (back.since, back.replaces, back.intent.kind, back.intent.pipeline_name) == (
        1000.0,
        "old",
        "run",
        "p",
    )
    assert back.intent.fingerprint() == INTENT.fingerprint()


def test_unreadable_records_are_ignored():
    for value in (None, "x", {}, {**record(), "version": 2}, {**record(), "since": "now"}):
        assert IntentRecord.from_json(value) is None
    assert IntentRecord.from_json({**record(), "kind": "other"}) is None
    assert IntentRecord.from_json({**record(), "inputs": {"n": 3}}) is None


def test_an_intent_is_unresolved_until_an_id_is_recorded_after_it():
    # No id at all: the try died between recording its intent and recording an id.
    assert unresolved_intent(record(None), None) is not None
    # The id recorded after the intent: resolved, no search.
    assert unresolved_intent(record(None), "new") is None
    # An earlier try's failed execution "old" is stored; this intent was recorded on top of it
    # by a try that then died: unresolved.
    assert unresolved_intent(record("old"), "old") is not None
    # ... and once that try recorded its own id: resolved.
    assert unresolved_intent(record("old"), "new") is None
    # No intent (a try from before this version, or none yet): nothing to look for.
    assert unresolved_intent(None, None) is None
    assert unresolved_intent(None, "old") is None


def test_the_journal_records_the_intent_then_the_id():
    store = Store({EXECUTION_ID_STATE_KEY: "old", CREATION_INTENT_STATE_KEY: record(None)})
    journal = CreationJournal(store, clock=lambda: 2000.0)
    assert journal.earlier_intent() is None  # the old intent got its id ("old")
    journal.record(INTENT)
    assert store[CREATION_INTENT_STATE_KEY]["replaces"] == "old"
    assert store[CREATION_INTENT_STATE_KEY]["since"] == 2000.0
    # A try dying here leaves an unresolved intent for the retry.
    assert CreationJournal(store).earlier_intent() is not None
    journal.created("new")
    assert store[EXECUTION_ID_STATE_KEY] == "new"
    assert store.writes == [CREATION_INTENT_STATE_KEY, EXECUTION_ID_STATE_KEY]
    assert CreationJournal(store).earlier_intent() is None


def test_the_journal_uses_the_mixins_key():
    store = Store()
    journal = CreationJournal(store, "custom_key")
    journal.earlier_intent()
    journal.record(INTENT)
    journal.created("e")
    assert store["custom_key"] == "e" and EXECUTION_ID_STATE_KEY not in store


def test_how_to_choose_names_both_keys():
    journal = CreationJournal({}, "my_id_key")
    assert "'my_id_key'" in journal.how_to_choose()
    assert "'craft_creation_intent'" in journal.how_to_choose()
