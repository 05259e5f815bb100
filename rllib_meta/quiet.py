"""Quiet by default: drop Ray's known harmless log messages (``rllib train -v`` shows them).

Each entry names the logger that emits the message and the message's exact start, so nothing
else is ever hidden: a warning or error worded differently, or from another logger, passes.
The same filters run in every Ray worker of the command (``worker_process_setup_hook`` of the
job's runtime env, :func:`rllib_meta.cluster.runtime_env`), since most copies of these
messages come from the trial and EnvRunner actors.
"""

import logging

# (logger name, start of the message). Why each one is harmless is written beside it.
KNOWN_NOISE: tuple[tuple[str, str], ...] = (
    # rllib-meta runs only on the new API stack: the notice says nothing new.
    ("ray.rllib.algorithms.algorithm_config", "You are running "),
    # RLlib's own catalogs build RLModules the deprecated way; nothing the user can change.
    (
        "ray._common.deprecation",
        "DeprecationWarning: `RLModule(config=[RLModuleConfig object])` has been deprecated",
    ),
    # Ray 2.60 turns token authentication on for local clusters and says so on every start.
    ("ray._private.authentication.authentication_token_setup", "Token authentication is enabled"),
    ("ray._private.worker", "Started a local Ray instance."),
    # Tune's system monitor without the optional GPUtil package (CPU-only runs).
    ("ray.tune.utils.util", "Install gputil for GPU system monitoring."),
    # Printed by every checkpoint save; `rllib train` prints its own checkpoint line.
    ("ray.train._internal.storage", "Checkpoint successfully created at:"),
    ("ray.tune.tune", "Wrote the latest version of all result files"),
    # Tune's hint names its Python API; `rllib train` prints the `--resume` command instead.
    ("ray.tune.tune", "Experiment has been interrupted, but the most recent state was saved."),
    ("ray.tune.tune", "Stop signal received (e.g. via SIGINT/Ctrl+C)"),
)


class KnownNoiseFilter(logging.Filter):
    """Drops records whose message starts with one of ``prefixes``."""

    def __init__(self, prefixes: tuple[str, ...]):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to judge: let it through
            return True
        return not message.startswith(self.prefixes)


def install() -> None:
    """Attach the filters to the emitting loggers (idempotent).

    A logger's own filters see exactly the records created on it, so naming the emitting
    logger keeps the filter from touching anything that merely propagates through it.
    """
    by_logger: dict[str, list[str]] = {}
    for name, prefix in KNOWN_NOISE:
        by_logger.setdefault(name, []).append(prefix)
    for name, prefixes in by_logger.items():
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, KnownNoiseFilter)]:
            logger.removeFilter(old)
        logger.addFilter(KnownNoiseFilter(tuple(prefixes)))


def uninstall() -> None:
    """Remove the filters again (``-v``, and tests)."""
    for name in {name for name, _ in KNOWN_NOISE}:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, KnownNoiseFilter)]:
            logger.removeFilter(old)


# The dotted path Ray workers import and call at start-up (runtime_env worker_process_setup_hook).
WORKER_SETUP_HOOK = f"{__name__}.install"
