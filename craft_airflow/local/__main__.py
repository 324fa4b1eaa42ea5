"""``python -m craft_airflow.local serve ...``."""

from craft_airflow.local.extra import main

main()
