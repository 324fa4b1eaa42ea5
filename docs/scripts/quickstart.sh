#!/usr/bin/env bash
# The quick start of the documentation (docs/quickstart.md) as one script, run from the root of a
# clone: the page includes each step from here. QUICKSTART_DIR (default /tmp/craft-quickstart)
# holds the venv, the platform's data and AIRFLOW_HOME.
set -euo pipefail
QUICKSTART_DIR=${QUICKSTART_DIR:-/tmp/craft-quickstart}

# [START install]
python3.11 -m venv "$QUICKSTART_DIR/venv"
. "$QUICKSTART_DIR/venv/bin/activate"
pip install "apache-airflow==3.3.2" ".[local]"
# [END install]

# [START platform]
export CRAFT_LOCAL_SDK_TOKEN=local-sdk-token
craft-local serve --data-dir "$QUICKSTART_DIR/platform" --examples &
# [END platform]
platform_pid=$!
trap 'kill "$platform_pid"' EXIT

# [START connection]
export AIRFLOW_CONN_CRAFT_AI_DEFAULT='{"conn_type": "craftai", "host": "http://127.0.0.1:8765",
  "password": "'"$CRAFT_LOCAL_SDK_TOKEN"'", "extra": {"control_url": "http://127.0.0.1:8765"}}'
# [END connection]

# [START dag]
export AIRFLOW_HOME="$QUICKSTART_DIR/airflow" AIRFLOW__CORE__LOAD_EXAMPLES=False
mkdir -p "$AIRFLOW_HOME/dags"
cp example_dags/craft_run_pipeline.py "$AIRFLOW_HOME/dags/"
airflow db migrate
airflow dags test craft_run_pipeline
# [END dag]
