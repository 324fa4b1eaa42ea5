"""``python -m craft_local serve ...``."""

from craft_local.extra import main

main()
