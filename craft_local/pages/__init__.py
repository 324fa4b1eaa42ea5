"""HTML pages of the embedded platform, for a person: executions, pipelines, deployments."""
