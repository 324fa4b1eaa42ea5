"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``).

Keep this module free of imports: every ``airflow`` command loads it.
"""

from __future__ import annotations

from typing import Any

_INTEGRATION = "Craft AI"


def _string(label: str, description: str, *, secret: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if secret:
        # "format: password": the UI masks the field, the providers manager marks it sensitive.
        schema["format"] = "password"
    return {"label": label, "schema": schema, "description": description}


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
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["craft_airflow.sensors.execution"],
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
                "python-modules": ["craft_airflow.triggers.execution"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "craft_ai",
                "hook-class-name": "craft_airflow.hooks.craft.CraftAIHook",
                "hook-name": "Craft AI",
                "conn-fields": {
                    "control_url": _string(
                        "Control URL",
                        "Where SDK tokens are exchanged for access tokens (/api/v1/auth/refresh). "
                        "Defaults to https://mlops-platform.craft.ai.",
                    ),
                    "endpoint_token": _string(
                        "Endpoint token (default)",
                        "Used by CraftTriggerEndpointOperator for endpoints without their own "
                        "token. Without any endpoint token the SDK-token route is used.",
                        secret=True,
                    ),
                    "endpoint_tokens": _string(
                        "Endpoint tokens (per endpoint)",
                        'JSON object {"<deployment name>": "<endpoint token>"}; a deployment '
                        "without an entry uses the default endpoint token.",
                        secret=True,
                    ),
                    "verify_tls": {
                        "label": "Verify TLS",
                        "schema": {"type": ["boolean", "null"], "default": True},
                        "description": "Verify the platform's TLS certificate.",
                    },
                    "request_timeout": {
                        "label": "Request timeout (s)",
                        "schema": {"type": ["number", "null"], "default": 30, "minimum": 0},
                        "description": "Read timeout of an ordinary HTTP request.",
                    },
                    "long_poll_timeout": {
                        "label": "Long-poll timeout (s)",
                        "schema": {"type": ["number", "null"], "default": 150, "minimum": 0},
                        "description": "Read timeout of a long-poll request; keep it above the "
                        "platform's hold time.",
                    },
                    "execution_url_template": _string(
                        "Execution URL template",
                        "URL of an execution's page in the Craft AI web UI, with the "
                        "placeholders {execution_id}, {pipeline_name}, {deployment_name}, "
                        "{environment_url}, {control_url}. Defaults to "
                        "{control_url}/executions/{execution_id}.",
                    ),
                    "output_storage": _string(
                        "Output storage",
                        "Base URI where file outputs are written, e.g. s3://bucket/craft or "
                        "file:///data/craft. Defaults to {AIRFLOW_HOME}/craft_outputs.",
                    ),
                    "max_retries": {
                        "label": "Max retries",
                        "schema": {"type": ["integer", "null"], "default": 10, "minimum": 0},
                        "description": "Retries of one request after a transient failure "
                        "(connection error, 502, 503, 504). A request that creates an execution "
                        "is never re-sent blindly.",
                    },
                    "max_retry_seconds": {
                        "label": "Max retry time (s)",
                        "schema": {"type": ["number", "null"], "default": 120, "minimum": 0},
                        "description": "Total time one request may spend retrying.",
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"host": "Environment URL", "password": "SDK token"},
                    "placeholders": {
                        "host": "https://<your-environment>.craft.ai",
                        "password": "SDK token from your Craft AI settings page",
                        "control_url": "https://mlops-platform.craft.ai",
                        "execution_url_template": "{control_url}/executions/{execution_id}",
                        "output_storage": "s3://my-bucket/craft-outputs",
                        "endpoint_tokens": '{"my-endpoint": "..."}',
                    },
                },
            }
        ],
        "extra-links": ["craft_airflow.links.CraftExecutionLink"],
        # craft://<conn_id>@/<path>: the data store as ObjectStoragePath storage.
        "filesystems": ["craft_airflow.filesystem"],
    }
