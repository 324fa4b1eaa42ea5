"""``[core] hostname_callable`` of the test's Celery workers: two workers on one machine report
distinct hostnames in their task instances, as two machines would."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("CRAFT_DEPLOY_WORKER_HOSTNAME") or socket.getfqdn()
