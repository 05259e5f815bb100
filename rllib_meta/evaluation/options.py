"""Which ``rllib evaluate`` options an evaluation reads, and the check of those given.

The whole-episode evaluation (:mod:`~rllib_meta.evaluation.episodes`, for every algorithm
without a protocol of its own) reads :data:`EPISODE_OPTIONS`; an algorithm with its own
``evaluate_checkpoints`` declares what it reads in its ``evaluate_options(infos)`` classmethod
(option -> the allowed values, None: any value of the flag's type), from the checkpoints'
headers, so that a bad option is refused before Ray starts.
"""

import argparse
from collections.abc import Mapping, Sequence

from rllib_meta.errors import ConfigError

# The options (argparse dests) and their values when not given. The parser leaves them None,
# so that the options given are known.
EVALUATE_DEFAULTS = {"episodes": 100, "greedy": False, "seed": 0, "output_dir": None, "split": None}
EPISODE_OPTIONS: Mapping[str, tuple[str, ...] | None] = {
    "episodes": None,
    "greedy": None,
    "seed": None,
}


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def check_evaluate_options(
    args: argparse.Namespace, algorithm_class: type, infos: Sequence, own_evaluation: bool
) -> None:
    """Refuse an option that the checkpoints' evaluation does not read (naming those it
    reads) and a value it does not take (naming the allowed ones); then fill in the defaults.
    An own evaluation that declares nothing is taken to read every option."""
    declared = getattr(algorithm_class, "evaluate_options", None)
    if not own_evaluation:
        options = EPISODE_OPTIONS
    elif declared is not None:
        options = declared(infos)
    else:
        options = dict.fromkeys(EVALUATE_DEFAULTS)
    reads = ", ".join(_flag(name) for name in options) or "none"
    for name in EVALUATE_DEFAULTS:
        value = getattr(args, name)
        if value is None:
            continue
        if name not in options:
            raise ConfigError(
                f"{_flag(name)} does not apply to {algorithm_class.__name__} checkpoints; the "
                f"options their evaluation reads: {reads}."
            )
        allowed = options[name]
        if allowed is not None and value not in allowed:
            names = ", ".join(repr(a) for a in allowed)
            raise ConfigError(
                f"{_flag(name)} {value!r} is not allowed for these checkpoints: {names}."
            )
    for name, default in EVALUATE_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {args.episodes}.")
