"""What a task records in Airflow's ``task_state_store`` (3.3+) around creating an execution, so
that a worker dying at any point of the creation leaves a retry what it needs to create nothing
twice.

Once per try that creates (driven by :meth:`~craft_airflow.hooks.craft.CraftAIHook.run_pipeline`
and the trigger methods when given a :class:`CreationJournal`):

1. an earlier try's intent without an id (:func:`unresolved_intent`) -> look for the execution it
   may have created (:func:`~craft_airflow.protocol.adoption.find_earlier_creation`): one ->
   its id recorded and followed (one that already failed is not: a new one is created, as after
   any failed try); several -> ``CraftAmbiguousCreation`` naming them; none -> go on;
2. record this try's intent (:data:`~craft_airflow.names.CREATION_INTENT_STATE_KEY`): when
   (``since``, the adoption search's lower bound), the kind and names of the target, the inputs'
   digests, and the id the store held then (``replaces``);
3. the create call;
4. record the id (the mixin's ``external_id_key``) before anything else: the XComs, the link and
   the wait come after.

An intent is resolved once the stored id differs from its ``replaces``: an id was recorded after
it. So an intent whose id was recorded never triggers a search, and after an earlier try's
execution failed (the mixin resubmits) the old intent is resolved and a new one is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from craft_airflow.names import CREATION_INTENT_STATE_KEY, EXECUTION_ID_STATE_KEY
from craft_airflow.protocol.adoption import CreationIntent

#: The record's layout; a record of another version is ignored (no search, a fresh creation).
RECORD_VERSION = 1
KINDS = ("run", "deployment", "endpoint")


class StateStore(Protocol):
    """What is used of Airflow's ``TaskStateStoreAccessor``."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


@dataclass(frozen=True)
class IntentRecord:
    """A try's intent to create an execution, as kept in the state store.

    :param since: wall-clock seconds just before the create call (the search's lower bound).
    :param intent: the target and the inputs' digests.
    :param replaces: the execution id the store held when the intent was recorded.
    """

    since: float
    intent: CreationIntent
    replaces: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "since": self.since,
            "kind": self.intent.kind,
            "pipeline_name": self.intent.pipeline_name,
            "deployment_name": self.intent.deployment_name,
            "inputs": self.intent.fingerprint(),
            "replaces": self.replaces,
        }

    @classmethod
    def from_json(cls, value: Any) -> IntentRecord | None:
        """The record, or ``None`` when ``value`` is not one this version wrote."""
        if not isinstance(value, Mapping) or value.get("version") != RECORD_VERSION:
            return None
        since, kind, inputs = value.get("since"), value.get("kind"), value.get("inputs")
        if (
            isinstance(since, bool)
            or not isinstance(since, int | float)
            or kind not in KINDS
            or not isinstance(inputs, Mapping)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in inputs.items())
        ):
            return None
        names = {}
        for key in ("pipeline_name", "deployment_name", "replaces"):
            names[key] = value.get(key) if isinstance(value.get(key), str) else None
        intent = CreationIntent(
            kind,
            pipeline_name=names["pipeline_name"],
            deployment_name=names["deployment_name"],
            digests=dict(inputs),
        )
        return cls(float(since), intent, names["replaces"])


def stored_id(value: Any) -> str | None:
    """A stored execution id as a string (``None`` when absent or empty)."""
    return str(value) if value not in (None, "") else None


def unresolved_intent(stored_intent: Any, stored_execution_id: Any) -> IntentRecord | None:
    """The earlier try's intent whose execution id was never recorded, else ``None``.

    :param stored_intent: the store's value under ``CREATION_INTENT_STATE_KEY``.
    :param stored_execution_id: the store's value under the execution id key.
    """
    record = IntentRecord.from_json(stored_intent)
    if record is None or record.replaces != stored_id(stored_execution_id):
        return None
    return record


class CreationJournal:
    """The intent and the id of a try's creation, in the task's state store.

    :param store: ``context["task_state_store"]``.
    :param id_key: the key of the execution id (the mixin's ``external_id_key``).
    """

    def __init__(
        self,
        store: StateStore,
        id_key: str = EXECUTION_ID_STATE_KEY,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.id_key = id_key
        self.clock = clock
        self._stored_id: str | None = None

    def earlier_intent(self) -> IntentRecord | None:
        """Read the store: an earlier try's intent without an id, if any."""
        self._stored_id = stored_id(self.store.get(self.id_key))
        return unresolved_intent(self.store.get(CREATION_INTENT_STATE_KEY), self._stored_id)

    def record(self, intent: CreationIntent) -> None:
        """Record this try's intent, just before the create call (after
        :meth:`earlier_intent`)."""
        record = IntentRecord(self.clock(), intent, self._stored_id)
        self.store.set(CREATION_INTENT_STATE_KEY, record.to_json())

    def created(self, execution_id: str) -> None:
        """Record the execution id: the first thing once the platform gave it."""
        self.store.set(self.id_key, execution_id)
        self._stored_id = execution_id

    def how_to_choose(self) -> str:
        """What a person does when several executions could be the earlier try's."""
        return (
            f"To follow one, set this task instance's state-store key {self.id_key!r} to its id; "
            f"to start a new one, delete the key {CREATION_INTENT_STATE_KEY!r} (Airflow's REST "
            "API: .../taskInstances/{task_id}/state-store/{key}); then clear the task."
        )
