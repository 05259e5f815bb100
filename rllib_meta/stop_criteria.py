"""Stop criteria: checked before Ray starts, enforced by one Tune ``Stopper``.

Tune stops a trial when a reported metric reaches its criterion, and silently trains forever
when the metric is never reported (a typo, or a classic-API-stack name such as
``timesteps_total`` that RLlib's new API stack no longer reports). So:

* before Ray starts, :func:`check_stop` refuses keys that no algorithm reports (with a
  did-you-mean), keys only the classic API stack reported (naming the new one), and values
  that are not numbers or are out of range (a negative ``training_iteration``);
* at run time, :class:`StopCriteria` checks a trial's first result: a criterion missing from it
  stops the whole experiment at once instead of training forever (nested leaves such as
  ``meta_learner/<anything>`` can only be checked against a real result).

The metric vocabulary is RLlib 2.60's new-API-stack result (``ray.rllib.utils.metrics``),
Tune's own result keys (``ray.tune.result``) and the result groups rllib-meta's algorithms log
under (``MetaAlgorithm.log_results``).
"""

import dataclasses
import difflib
import math
from collections.abc import Mapping
from typing import Any

from rllib_meta.errors import ConfigError
from rllib_meta.yaml_loader import SourceDict, location

# Tune fills these into every result (ray.tune.result).
TUNE_METRICS = (
    "training_iteration",
    "time_total_s",
    "time_this_iter_s",
    "time_since_restore",
    "iterations_since_restore",
    "timestamp",
)
# RLlib's new API stack, top level.
RLLIB_TOP_LEVEL = ("num_env_steps_sampled_lifetime", "num_training_step_calls_per_iteration")
# Leaves of `env_runners/` (and `evaluation/env_runners/`); ``*`` = one agent or module id.
ENV_RUNNER_METRICS = (
    "episode_return_mean",
    "episode_return_min",
    "episode_return_max",
    "episode_len_mean",
    "episode_len_min",
    "episode_len_max",
    "episode_duration_sec_mean",
    "num_episodes",
    "num_episodes_lifetime",
    "num_env_steps_sampled",
    "num_env_steps_sampled_lifetime",
    "agent_episode_returns_mean/*",
    "module_episode_returns_mean/*",
    "num_agent_steps_sampled/*",
    "num_agent_steps_sampled_lifetime/*",
    "num_module_steps_sampled/*",
    "num_module_steps_sampled_lifetime/*",
)
# Groups whose leaves depend on the run (module ids, timer names): any path below them passes
# here and is checked against the first result.
OPEN_GROUPS = ("learners", "timers", "perf", "fault_tolerance", "env_runner_group")


def result_groups(algorithm: str) -> tuple[str, ...]:
    """The open result groups of algorithm ``algorithm`` (a registered name): RLlib's, plus,
    for rllib-meta's, the groups it declares (``MetaAlgorithm.RESULT_GROUPS``, which its
    ``log_results`` enforces)."""
    from rllib_meta.algorithms import ALGORITHMS
    from rllib_meta.registry import get_algorithm_class

    if algorithm not in ALGORITHMS:
        return OPEN_GROUPS
    return OPEN_GROUPS + get_algorithm_class(algorithm).result_groups()


# Classic-API-stack names (and common guesses) that are never reported: what to use instead.
RENAMED = {
    "timesteps_total": "num_env_steps_sampled_lifetime",
    "timesteps_this_iter": "env_runners/num_env_steps_sampled",
    "episodes_total": "env_runners/num_episodes_lifetime",
    "episodes_this_iter": "env_runners/num_episodes",
    "episode_reward_mean": "env_runners/episode_return_mean",
    "episode_reward_min": "env_runners/episode_return_min",
    "episode_reward_max": "env_runners/episode_return_max",
    "episode_return_mean": "env_runners/episode_return_mean",
    "episode_len_mean": "env_runners/episode_len_mean",
    "sampler_results/episode_reward_mean": "env_runners/episode_return_mean",
}
# Criteria that count up from zero: a threshold below 1 (iterations) or 0 stops at once.
AT_LEAST_ONE = ("training_iteration", "iterations_since_restore")
COUNTS_AND_TIMES = ("time_", "num_", "timestamp")


def known_metrics() -> list[str]:
    """Every fully named metric (``*`` for an id), for did-you-mean suggestions."""
    runner = [f"env_runners/{leaf}" for leaf in ENV_RUNNER_METRICS]
    evaluation = [f"evaluation/{name}" for name in runner]
    return [*TUNE_METRICS, *RLLIB_TOP_LEVEL, *runner, *evaluation]


def _matches(metric: str, pattern: str) -> bool:
    parts, pattern_parts = metric.split("/"), pattern.split("/")
    return len(parts) == len(pattern_parts) and all(
        p == q or (q == "*" and p) for p, q in zip(parts, pattern_parts, strict=True)
    )


def is_known_metric(metric: str, groups: tuple[str, ...] = OPEN_GROUPS) -> bool:
    """True when ``metric`` is (or may be, under one of ``groups``) a reported metric."""
    if any(_matches(metric, pattern) for pattern in known_metrics()):
        return True
    group, _, rest = metric.partition("/")
    return group in groups and bool(rest)


def flatten_stop(stop: Mapping, where: str) -> SourceDict:
    """``{env_runners: {episode_return_mean: 5}}`` -> ``{"env_runners/episode_return_mean": 5}``
    (Tune wants slash paths and fails late on nested mappings), keeping where each was written."""
    flat = SourceDict()
    for key, value in stop.items():
        if not isinstance(key, str):
            raise ConfigError(
                f"{location(stop, key) or where} stop: metric names must be strings, got {key!r}."
            )
        if isinstance(value, Mapping):
            inner = flatten_stop(value, location(stop, key) or where)
            for inner_key, inner_value in inner.items():
                flat[f"{key}/{inner_key}"] = inner_value
                flat.locations[f"{key}/{inner_key}"] = location(inner, inner_key)
        else:
            flat[key] = value
            flat.locations[key] = location(stop, key) or where
    return flat


def _unknown_metric(metric: str, where: str, groups: tuple[str, ...]) -> ConfigError:
    if metric in RENAMED:
        return ConfigError(
            f"{where}: stop criterion {metric!r} is never reported on RLlib's new API stack "
            f"(the run would never stop); use {RENAMED[metric]!r}."
        )
    candidates = known_metrics() + list(RENAMED.values())
    close = difflib.get_close_matches(metric, candidates, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in dict.fromkeys(close))}?" if close else ""
    return ConfigError(
        f"{where}: unknown stop criterion {metric!r} (the run would never stop).{hint} Allowed: "
        f"{', '.join(TUNE_METRICS + RLLIB_TOP_LEVEL)}, env_runners/<metric> (e.g. "
        "env_runners/episode_return_mean), evaluation/env_runners/<metric>, or a metric under "
        f"{', '.join(g + '/' for g in groups)}."
    )


def _check_value(metric: str, value: Any, where: str) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or math.isnan(value):
        raise ConfigError(f"{where}: stop.{metric}: expected a number, got {value!r}.")
    if math.isinf(value):
        raise ConfigError(
            f"{where}: stop.{metric}: must be finite, got {value!r} (leave the criterion out "
            "to train until interrupted)."
        )
    leaf = metric.rsplit("/", 1)[-1]
    if leaf in AT_LEAST_ONE and value < 1:
        raise ConfigError(f"{where}: stop.{metric}: must be >= 1, got {value!r}.")
    if leaf.startswith(COUNTS_AND_TIMES) and value <= 0:
        raise ConfigError(f"{where}: stop.{metric}: must be > 0, got {value!r}.")


def check_stop(
    stop: Mapping, where: str, strict: bool = True, groups: tuple[str, ...] = OPEN_GROUPS
) -> SourceDict:
    """Validate stop criteria; return them flattened to Tune's slash paths.

    ``groups``: the algorithm's open result groups (:func:`result_groups`). ``strict=False``
    (an algorithm class of the user's own, whose metrics are unknown here) checks only the
    values; the run-time check of the first result still applies.
    Raises :class:`ConfigError` naming the criterion and where it was written.
    """
    flat = flatten_stop(stop, where)
    for metric, value in flat.items():
        written = location(flat, metric) or where
        if strict and not is_known_metric(metric, groups):
            raise _unknown_metric(metric, written, groups)
        _check_value(metric, value, written)
    return flat


def lookup(result: Mapping, metric: str) -> Any:
    """The value at slash path ``metric`` of a (nested) result, or ``None``."""
    if metric in result:
        return result[metric]
    value: Any = result
    for part in metric.split("/"):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def reached(stop: Mapping, result: Mapping) -> bool:
    """Tune's rule for a stop mapping: any criterion whose metric reached its threshold."""
    for metric, threshold in stop.items():
        value = lookup(result, metric)
        if isinstance(value, int | float) and value >= threshold:
            return True
    return False


def missing_metrics(stop: Mapping, result: Mapping) -> list[str]:
    """Criteria of ``stop`` that ``result`` does not report."""
    return [metric for metric in stop if not isinstance(lookup(result, metric), int | float)]


def _result_paths(result: Mapping, prefix: str = "") -> list[str]:
    paths = []
    for key, value in result.items():
        if isinstance(value, Mapping):
            paths += _result_paths(value, f"{prefix}{key}/")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            paths.append(f"{prefix}{key}")
    return paths


def missing_metric_message(missing: list[str], result: Mapping, stop: Mapping, where: str) -> str:
    """The error for criteria a trial's first result does not report."""
    where = location(stop, missing[0]) or where
    available = [p for p in _result_paths(result) if not p.startswith("config/")]
    parts = []
    for metric in missing:
        close = difflib.get_close_matches(metric, available, n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        parts.append(f"{metric!r}{hint}")
    return (
        f"{where}: stop criteria not reported by the algorithm: {', '.join(parts)}; the run "
        "would never stop, so it was stopped after its first iteration. Reported metrics "
        f"include: {', '.join(sorted(p for p in available if '/timers/' not in p)[:40])} ..."
    )


@dataclasses.dataclass
class StopState:
    """The stop criteria of the experiment this process runs, and what the check found."""

    criteria: dict
    origin: str
    checked: set = dataclasses.field(default_factory=set)
    error: str | None = None


# Experiment path -> its StopState. Tune pickles the Stopper into the experiment state and, on
# restore, puts the unpickled one back in place of the one passed to it; through this table
# that old Stopper applies the criteria of the command that runs now (a new --stop).
_ACTIVE: dict[str, StopState] = {}


def activate(key: str, stop: Mapping, where: str) -> StopState:
    """Make ``stop`` the criteria of experiment ``key`` for this process."""
    _ACTIVE[key] = StopState(stop if isinstance(stop, SourceDict) else dict(stop), where)
    return _ACTIVE[key]


def make_stopper(key: str, stop: Mapping, where: str, restored: bool = False) -> Any:
    """A Tune ``Stopper`` for experiment ``key`` that also refuses criteria its algorithm
    never reports (see the module docstring). ``restored``: unpickled from an experiment's
    state, it follows the criteria this process activated for ``key`` (else its own)."""
    from ray import tune

    class StopCriteria(tune.Stopper):
        """Stops a trial when a criterion is reached; stops everything, recording why, when a
        trial's first result lacks a criterion."""

        def __init__(self, experiment: str, fallback: StopState):
            self.experiment = experiment
            self.fallback = fallback  # for a restore outside `rllib train`

        @property
        def state(self) -> StopState:
            return _ACTIVE.get(self.experiment, self.fallback)

        def __call__(self, trial_id: str, result: dict) -> bool:
            state = self.state
            if trial_id not in state.checked:
                state.checked.add(trial_id)
                missing = missing_metrics(state.criteria, result)
                if missing:
                    state.error = missing_metric_message(
                        missing, result, state.criteria, state.origin
                    )
                    return True
            return reached(state.criteria, result)

        def stop_all(self) -> bool:
            return self.state.error is not None

        def __reduce__(self):
            # Pickled by reference to a module function: by value (cloudpickle's way with a
            # class defined here) the methods would carry a stale copy of _ACTIVE.
            fallback = self.fallback
            return (_unpickle_stopper, (self.experiment, fallback.criteria, fallback.origin))

    own = StopState(dict(stop), where) if restored else activate(key, stop, where)
    return StopCriteria(key, own)


def _unpickle_stopper(key: str, stop: Mapping, where: str) -> Any:
    return make_stopper(key, stop, where, restored=True)
