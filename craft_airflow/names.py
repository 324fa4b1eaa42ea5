"""The names a DAG author or a deployment sees, each defined once: the default connection id,
the XCom keys a Craft task pushes, its ``task_state_store`` keys, and the configuration section.

No imports: ``get_provider_info`` and the DAG-facing modules read these.
"""

from __future__ import annotations

#: The connection every hook, operator, sensor and ``craft://`` path uses unless told otherwise.
DEFAULT_CONN_ID = "craft_ai_default"

#: XCom key of the execution id, pushed as soon as the execution exists.
EXECUTION_ID_XCOM_KEY = "execution_id"
#: XCom key of the execution's URL: Airflow's key for the extra link
#: :class:`~craft_airflow.links.CraftExecutionLink` (``_link_<class name>``).
EXECUTION_URL_XCOM_KEY = "_link_CraftExecutionLink"
#: XCom key of a task's return value (Airflow's).
RETURN_VALUE_XCOM_KEY = "return_value"
#: XCom key of a succeeded execution's metrics: ``{name: number}`` for single-value metrics,
#: ``{name: [numbers]}`` for list metrics (pushed when the route reads them: the SDK token).
METRICS_XCOM_KEY = "metrics"

#: ``task_state_store`` key of the execution id, read by a retry to re-attach (renaming it
#: breaks in-flight retries).
EXECUTION_ID_STATE_KEY = "craft_execution_id"
#: ``task_state_store`` key of the intent a try records just before it asks the platform to
#: create an execution (:mod:`craft_airflow.journal`): a retry finding it without a recorded id
#: looks for the execution the dead try may have created (renaming it breaks in-flight retries).
CREATION_INTENT_STATE_KEY = "craft_creation_intent"

#: Where the live reading of an execution's logs stopped (the execution id and its cursor):
#: the ``task_state_store`` key a worker keeps it under for a retry, and the XCom key a trigger
#: keeps it under for a triggerer restart.
LOG_CURSOR_KEY = "craft_log_cursor"

#: The provider's section of the Airflow configuration (``[craft_ai]``).
CONFIG_SECTION = "craft_ai"
#: ``[craft_ai] finish_on_triggerer``: the default of the tasks' ``finish_on_triggerer``.
FINISH_ON_TRIGGERER_OPTION = "finish_on_triggerer"
#: ``[craft_ai] start_from_trigger``: the default of the sensor's ``start_from_trigger``.
START_FROM_TRIGGER_OPTION = "start_from_trigger"
#: The execution trigger's class path, as stored with a deferred task (and with a DAG whose
#: sensor starts on the triggerer).
EXECUTION_TRIGGER_CLASSPATH = "craft_airflow.triggers.execution.CraftExecutionTrigger"
