"""Tune search spaces written in YAML: ``{grid_search: [...]}``, ``{choice: [...]}``,
``{uniform: [low, high]}``, ``{loguniform: [low, high]}``, ``{randint: [low, high]}``,
``{quniform: [low, high, q]}``.

Each parses to the Tune object, one example value and the values that bound what a trial may
get (every option of a grid or choice, the ends of a range), so that every trial's config can
be validated before any trial starts.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rllib_meta.errors import ConfigError

SEARCH_SPACE_KINDS = ("choice", "grid_search", "loguniform", "quniform", "randint", "uniform")


@dataclass(frozen=True)
class SearchSpace:
    """A parsed search space: what Tune samples from, one example value, and ``options``:
    every value a trial may get (grid_search, choice), or the lowest and highest (ranges)."""

    tune_value: Any
    example: Any
    options: tuple[Any, ...]


def is_search_space(value: object) -> bool:
    """True for a one-key mapping whose key is a search-space kind."""
    return (
        isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in SEARCH_SPACE_KINDS
    )


def _numbers(kind: str, args: object, count: int, where: str) -> list[float]:
    if (
        not isinstance(args, list)
        or len(args) != count
        or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args)
    ):
        shape = "[low, high]" if count == 2 else "[low, high, q]"
        raise ConfigError(f"{where}: {kind} takes {shape} numbers, got {args!r}.")
    if args[0] >= args[1]:
        raise ConfigError(f"{where}: {kind} needs low < high, got {args!r}.")
    return args


def parse_search_space(value: Mapping, where: str) -> SearchSpace:
    """Turn a YAML search-space mapping into a :class:`SearchSpace`."""
    from ray import tune

    ((kind, args),) = value.items()
    if kind in ("grid_search", "choice"):
        if not isinstance(args, list) or not args:
            raise ConfigError(f"{where}: {kind} takes a non-empty list, got {args!r}.")
        tune_value = tune.grid_search(args) if kind == "grid_search" else tune.choice(args)
        return SearchSpace(tune_value, args[0], tuple(args))
    if kind == "quniform":
        low, high, q = _numbers(kind, args, 3, where)
        return SearchSpace(tune.quniform(low, high, q), low, (low, high))
    low, high = _numbers(kind, args, 2, where)
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{where}: loguniform needs low > 0, got {args!r}.")
    if kind == "randint" and not all(isinstance(a, int) for a in args):
        raise ConfigError(f"{where}: randint takes integers, got {args!r}.")
    factory = {"uniform": tune.uniform, "loguniform": tune.loguniform, "randint": tune.randint}
    highest = high - 1 if kind == "randint" else high  # randint's high is exclusive
    return SearchSpace(factory[kind](low, high), low, (low, highest))
