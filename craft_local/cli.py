"""``craft-local`` / ``python -m craft_local``: run the embedded platform.

Every option can also come from an environment variable ``CRAFT_LOCAL_<OPTION>``
(``--sdk-token`` -> ``CRAFT_LOCAL_SDK_TOKEN``), so the token need not be on the command line.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from craft_local.config import RUNTIMES, KubernetesSettings, PlatformConfig
from craft_local.faults import RESET_MODES, FaultSettings

_C, _F, _K = PlatformConfig, FaultSettings, KubernetesSettings  # defaults: the dataclasses


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {raw!r}")


# (option, type, default, help); the env var is CRAFT_LOCAL_ + option in upper snake case.
_OPTIONS: list[tuple[str, Any, Any, str]] = [
    ("host", str, _C.host, "interface to listen on"),
    ("port", int, _C.port, "port to listen on"),
    ("data-dir", str, None, "folder for the database, code, files and logs (required)"),
    ("sdk-token", str, None, "the SDK (refresh) token clients must present (required)"),
    ("pipelines", str, None, "folder of declared pipelines to load at start"),
    (
        "max-concurrency",
        int,
        _C.max_concurrency,
        "executions running at once; others wait as Pending",
    ),
    (
        "long-poll-seconds",
        float,
        _C.long_poll_seconds,
        "how long waiting requests are held before a 307",
    ),
    ("jwt-lifetime", int, _C.jwt_lifetime, "access token lifetime in seconds"),
    ("max-request-bytes", int, _C.max_request_bytes, "largest request body (413 above)"),
    (
        "max-json-bytes",
        int,
        _C.max_json_bytes,
        "largest JSON or form-urlencoded body, refused (413) before parsing",
    ),
    ("max-code-bytes", int, _C.max_code_bytes, "largest uncompressed pipeline code"),
    (
        "shutdown-grace-seconds",
        float,
        _C.shutdown_grace_seconds,
        "on SIGTERM, how long running executions may take to finish before they are killed",
    ),
    (
        "public-url",
        str,
        None,
        "URL clients use when not on loopback; its host is answered besides the loopback names",
    ),
    (
        "pipeline-python",
        str,
        None,
        "interpreter of pipeline code on the process runtime (default: this one)",
    ),
    ("fault-503-rate", float, _F.rate_503, "share of API requests answered 503"),
    ("fault-429-rate", float, _F.rate_429, "share of API requests answered 429"),
    ("fault-retry-after", float, _F.retry_after, "Retry-After seconds sent with injected 429s"),
    ("fault-reset-rate", float, _F.rate_reset, "share of API requests whose connection is dropped"),
    ("fault-reset-mode", str, _F.reset_mode, "drop before/after handling the request, or random"),
    ("fault-slow-rate", float, _F.rate_slow, "share of API requests delayed"),
    ("fault-slow-seconds", float, _F.slow_seconds, "delay of slowed requests"),
    ("fault-seed", int, _F.seed, "seed of the fault random generator"),
    (
        "fault-match",
        str,
        _F.match,
        "regular expression: faults only for requests whose 'METHOD /path' it matches",
    ),
    ("runtime", str, _C.runtime, "where executions run: child processes or Kubernetes Jobs"),
    ("kube-namespace", str, _K.namespace, "namespace of the execution Jobs"),
    ("kube-image", str, _K.image, "image of the execution pods (needs python3)"),
    ("kube-image-pull-policy", str, _K.image_pull_policy, "imagePullPolicy of the pods"),
    ("kubeconfig", str, None, "kubeconfig file (default: KUBECONFIG rules, then in-cluster)"),
    ("kube-context", str, None, "kubeconfig context (default: the current one)"),
    (
        "pod-platform-url",
        str,
        None,
        "URL at which pods reach this platform (default: http://HOST:PORT)",
    ),
    ("kube-host-network", _flag, _K.host_network, "run pods on the node's network (true/false)"),
    ("kube-cpu-request", str, _K.cpu_request, 'default CPU request of a pod ("" for none)'),
    ("kube-memory-request", str, _K.memory_request, "default memory request of a pod"),
    ("kube-cpu-limit", str, _K.cpu_limit, "default CPU limit of a pod"),
    ("kube-memory-limit", str, _K.memory_limit, "default memory limit of a pod"),
    (
        "kube-resources-file",
        str,
        None,
        'JSON {pipeline: {"cpu_request", "memory_request", "cpu_limit", "memory_limit"}}',
    ),
]
_CHOICES: dict[str, Sequence[str]] = {
    "fault-reset-mode": RESET_MODES,
    "runtime": RUNTIMES,
    "kube-image-pull-policy": ("Always", "IfNotPresent", "Never"),
}


def env_var(option: str) -> str:
    """The environment variable of ``option``: ``data-dir`` -> ``CRAFT_LOCAL_DATA_DIR``."""
    return "CRAFT_LOCAL_" + option.upper().replace("-", "_")


def build_parser() -> argparse.ArgumentParser:
    """The ``craft-local`` parser; a set ``CRAFT_LOCAL_<OPTION>`` becomes that option's default."""
    parser = argparse.ArgumentParser(prog="craft-local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the embedded Craft AI platform")
    for option, kind, default, help_text in _OPTIONS:
        raw = os.environ.get(env_var(option))
        value = kind(raw) if raw not in (None, "") else default
        choices = _CHOICES.get(option)
        serve.add_argument(
            f"--{option}",
            type=kind,
            default=value,
            choices=choices,
            help=f"{help_text} [env {env_var(option)}]",
        )
    serve.add_argument(
        "--examples",
        action="store_true",
        default=_flag(os.environ.get(env_var("examples")) or "false"),
        help="also declare the example pipelines the example DAGs run (before --pipelines) "
        f"[env {env_var('examples')}=true]",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> PlatformConfig:
    """Build the platform settings from parsed ``serve`` arguments.

    :param args: what :func:`build_parser` parsed; fault rates must be within [0, 1].
    """
    faults = FaultSettings(
        rate_503=args.fault_503_rate,
        rate_429=args.fault_429_rate,
        retry_after=args.fault_retry_after,
        rate_reset=args.fault_reset_rate,
        reset_mode=args.fault_reset_mode,
        rate_slow=args.fault_slow_rate,
        slow_seconds=args.fault_slow_seconds,
        seed=args.fault_seed,
        match=args.fault_match or None,
    )
    for name in ("rate_503", "rate_429", "rate_reset", "rate_slow"):
        value = getattr(faults, name)
        if not 0 <= value <= 1:
            raise SystemExit(f"craft-local: {name.replace('_', '-')} must be between 0 and 1")
    try:
        faults.update({"match": faults.match})  # the one check of the expression
    except ValueError as exc:
        raise SystemExit(f"craft-local: fault-{exc}") from None
    return PlatformConfig(
        data_dir=Path(args.data_dir).resolve(),
        sdk_token=args.sdk_token,
        pipelines_dir=Path(args.pipelines).resolve() if args.pipelines else None,
        examples=args.examples,
        host=args.host,
        port=args.port,
        max_concurrency=args.max_concurrency,
        long_poll_seconds=args.long_poll_seconds,
        jwt_lifetime=args.jwt_lifetime,
        max_request_bytes=args.max_request_bytes,
        max_json_bytes=args.max_json_bytes,
        max_code_bytes=args.max_code_bytes,
        shutdown_grace_seconds=args.shutdown_grace_seconds,
        faults=faults,
        public_url=args.public_url or None,
        pipeline_python=args.pipeline_python or None,
        runtime=args.runtime,
        kubernetes=KubernetesSettings(
            namespace=args.kube_namespace,
            image=args.kube_image,
            image_pull_policy=args.kube_image_pull_policy,
            kubeconfig=args.kubeconfig or None,
            context=args.kube_context or None,
            pod_platform_url=args.pod_platform_url or None,
            host_network=args.kube_host_network,
            cpu_request=args.kube_cpu_request,
            memory_request=args.kube_memory_request,
            cpu_limit=args.kube_cpu_limit,
            memory_limit=args.kube_memory_limit,
            resources_file=Path(args.kube_resources_file) if args.kube_resources_file else None,
        ),
    )


def serve(config: PlatformConfig) -> None:
    """Run the server in this process until SIGINT/SIGTERM.

    Once listening, prints (to stdout) the Airflow connection that reaches the platform, with
    the SDK token left to a shell variable. Stopping is graceful: the listening socket closes
    (clients see connection refused), held long-polls answer at once, running executions get
    ``shutdown_grace_seconds`` to finish, ``Pending`` ones are left for the next start to
    re-queue.
    """
    import uvicorn

    from craft_local.app import asgi_app, create_app
    from craft_local.connection import connection_commands, reachable_url
    from craft_local.datadir import PRIVATE_UMASK
    from craft_local.declared import DeclarationError
    from craft_local.runtimes import RuntimeConfigError
    from craft_local.state import Platform

    if config.shutdown_grace_seconds < 0:
        raise SystemExit("craft-local: shutdown-grace-seconds must not be negative")

    os.umask(PRIVATE_UMASK)  # the database, secrets and execution files: for this user only
    try:
        app = create_app(config)
    except (DeclarationError, RuntimeConfigError) as exc:
        raise SystemExit(f"craft-local: {exc}") from None
    logging.getLogger("craft_local").info(
        "serving on http://%s:%d (data dir %s)", config.host, config.port, config.data_dir
    )
    platform: Platform = app.state.platform

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                port = self.servers[0].sockets[0].getsockname()[1]  # the bound one, also for 0
                print(connection_commands(reachable_url(config.host, port)), flush=True)

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            platform.begin_stop()
            super().handle_exit(sig, frame)

    # No access log: URLs carry ?token= on endpoint routes.
    server = _Server(
        uvicorn.Config(
            asgi_app(app),
            host=config.host,
            port=config.port,
            access_log=False,
            log_config=None,
            log_level="info",
            timeout_graceful_shutdown=5,
        )
    )
    server.run()
    if not server.started:
        raise SystemExit(3)  # as uvicorn.run: the server failed to start


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``craft-local``.

    :param argv: the arguments, ``sys.argv[1:]`` when ``None``.
    """
    args = build_parser().parse_args(argv)
    if not args.data_dir:
        raise SystemExit(f"craft-local: --data-dir (or {env_var('data-dir')}) is required")
    if not args.sdk_token:
        raise SystemExit(f"craft-local: --sdk-token (or {env_var('sdk-token')}) is required")
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    serve(config_from_args(args))
