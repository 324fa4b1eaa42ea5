"""``python -m craft_airflow.local serve ...``."""

from craft_airflow.local.cli import main

main()
