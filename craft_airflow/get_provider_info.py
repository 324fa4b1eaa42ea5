"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``).

Keep this module free of imports: every ``airflow`` command loads it.
"""

from __future__ import annotations

from typing import Any

_INTEGRATION = "Craft AI"


_CONN_TYPE = "craftai"


def _string(label: str, description: str, *, example: str, secret: bool = False) -> dict[str, Any]:
    # Airflow 3's form shows a placeholder on a text extra only when its schema has
    # "examples" (and offers them as suggestions); it ignores ui-field-behaviour placeholders
    # on extras.
    schema: dict[str, Any] = {"type": ["string", "null"], "examples": [example]}
    if secret:
        # "format: password": the UI masks the field, the providers manager marks it sensitive.
        schema["format"] = "password"
    return {"label": label, "schema": schema, "description": description}


def _number(
    label: str, description: str, *, default: float, integer: bool = False
) -> dict[str, Any]:
    # A number field shows its default as its value: that is its placeholder.
    kind = "integer" if integer else "number"
    return {
        "label": label,
        "schema": {"type": [kind, "null"], "default": default, "minimum": 0},
        "description": description,
    }


def _conn_fields() -> dict[str, Any]:
    return {
        "control_url": _string(
            "Control URL",
            "Where SDK tokens are exchanged for access tokens (/api/v1/auth/refresh). Empty: the "
            "environment URL when that is on this machine (localhost, 127.x.x.x, ::1), else "
            "https://mlops-platform.craft.ai.",
            example="https://mlops-platform.craft.ai",
        ),
        "endpoint_token": _string(
            "Endpoint token (default)",
            "Used by CraftTriggerEndpointOperator for endpoints without their own token. Without "
            "any endpoint token the SDK-token route is used.",
            example="<endpoint token of any endpoint>",
            secret=True,
        ),
        "endpoint_tokens": _string(
            "Endpoint tokens (per endpoint)",
            'Masked JSON object {"<deployment name>": "<endpoint token>"}; a deployment without '
            "an entry uses the default endpoint token. List its names under "
            "'Endpoints with a token' to keep them visible.",
            example='{"<deployment name>": "<endpoint token>"}',
            secret=True,
        ),
        "endpoints": {
            "label": "Endpoints with a token",
            "schema": {"type": ["array", "null"], "items": {"type": "string"}},
            "description": "The deployment names of 'Endpoint tokens' (one per line), shown in "
            "clear so that you can see which endpoints have a token; the tokens stay masked. "
            "When set, it must list exactly those names.",
        },
        "verify_tls": {
            "label": "Verify TLS",
            "schema": {"type": ["boolean", "null"], "default": True},
            "description": "Verify the platform's TLS certificate.",
        },
        "live_logs": {
            "label": "Live logs",
            "schema": {"type": ["boolean", "null"], "default": True},
            "description": "Show a running execution's new log lines and status changes in the "
            "task log while the task waits (a task's live_logs argument overrides it).",
        },
        "live_logs_interval": _number(
            "Live logs interval (s)",
            "Seconds between two reads of a running execution's new log lines (at least 1).",
            default=3,
        ),
        "request_timeout": _number(
            "Request timeout (s)",
            "Time one attempt of an ordinary HTTP request may take, whole answer included "
            "(also its read timeout).",
            default=30,
        ),
        "long_poll_timeout": _number(
            "Long-poll timeout (s)",
            "Time one long-poll request may take, whole answer included; keep it above the "
            "platform's hold time.",
            default=150,
        ),
        "transfer_timeout": _number(
            "Transfer timeout (s)",
            "Time one file download (every byte of it) or one request sending files may take.",
            default=3600,
        ),
        "max_response_bytes": _number(
            "Max answer size (bytes)",
            "The largest answer read into memory (JSON answers, error pages; file downloads "
            "are streamed): a larger one fails the call, naming it. Default 64 MiB.",
            default=64 * 1024 * 1024,
            integer=True,
        ),
        "execution_url_template": _string(
            "Execution URL template",
            "URL of an execution's page in the Craft AI web UI, with the placeholders "
            "{execution_id}, {pipeline_name}, {deployment_name}, {environment_url}, "
            "{control_url}. Defaults to {control_url}/executions/{execution_id} (right for the "
            "embedded platform, a guess for a real environment).",
            example="{control_url}/executions/{execution_id}",
        ),
        "output_storage": _string(
            "Output storage",
            "Base URI where file outputs are written, e.g. s3://bucket/craft or "
            "file:///data/craft. Defaults to {AIRFLOW_HOME}/craft_outputs.",
            example="s3://my-bucket/craft-outputs",
        ),
        "max_retries": _number(
            "Max retries",
            "Retries of one request after a transient failure (connection error, 429, 502, "
            "503, 504). A request that creates an execution is never re-sent blindly.",
            default=10,
            integer=True,
        ),
        "max_retry_seconds": _number(
            "Max retry time (s)",
            "Total time one request may spend retrying once the platform has answered.",
            default=120,
        ),
        "connect_retry_seconds": _number(
            "First-contact retry time (s)",
            "Total time one request may spend retrying while the host has never answered "
            "(connection refused, name not found, connect timeout): a wrong URL or a platform "
            "that is down fails the task this fast.",
            default=10,
        ),
    }


def _connection_type(conn_type: str, hook_class: str, hook_name: str) -> dict[str, Any]:
    return {
        "connection-type": conn_type,
        "hook-class-name": hook_class,
        "hook-name": hook_name,
        "conn-fields": _conn_fields(),
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "login"],
            "relabeling": {"host": "Environment URL", "password": "SDK token"},
            "placeholders": {
                "host": "https://<your-environment>.craft.ai",
                "password": "SDK token from your Craft AI settings page",
            },
        },
    }


def get_provider_info() -> dict[str, Any]:
    """Return the registration: connection type, hooks, operators, sensor, trigger, link,
    filesystem."""
    return {
        # Must equal the normalised distribution name, or every airflow command fails.
        "package-name": "craft-airflow",
        "name": "Craft AI",
        "description": "Run `Craft AI <https://www.craft.ai>`__ MLOps pipelines and endpoint "
        "deployments from Airflow and follow their executions.\n",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://mlops-platform-documentation.craft.ai/",
                "tags": ["service"],
            }
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "craft_airflow.operators.pipeline",
                    "craft_airflow.operators.endpoint",
                    "craft_airflow.operators.deployment",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "craft_airflow.sensors.execution",
                    "craft_airflow.sensors.deployment",
                ],
            }
        ],
        "hooks": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["craft_airflow.hooks.craft", "craft_airflow.hooks.craft_async"],
            }
        ],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "craft_airflow.triggers.execution",
                    "craft_airflow.triggers.deployment",
                ],
            }
        ],
        "connection-types": [
            _connection_type(_CONN_TYPE, "craft_airflow.hooks.craft.CraftAIHook", "Craft AI"),
        ],
        "extra-links": ["craft_airflow.links.CraftExecutionLink"],
        # craft://<conn_id>@/<path>: the data store as ObjectStoragePath storage.
        "filesystems": ["craft_airflow.filesystem"],
    }
