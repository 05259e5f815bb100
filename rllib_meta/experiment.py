"""Tuned-example experiments: YAML -> validated AlgorithmConfig -> a Ray Tune run.

The classic RLlib tuned-example format, one or more experiments per file::

    <experiment name>:
      run: PPO                  # algorithm name (rllib-meta's, RLlib's) or "module:Class"
      env: ipd                  # registered env name (may also be given as config.env)
      stop: {training_iteration: 10}
      config: {...}             # builder-method arguments, validated (config_builder.py)
      checkpoint_config: {checkpoint_frequency: 5, checkpoint_at_end: true}
      num_samples: 1
      storage_path: ~/ray_results

Everything is validated before Ray starts, so a typo costs no cluster time.
"""

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rllib_meta.config_builder import build_algorithm_config
from rllib_meta.errors import ConfigError, unknown_choice
from rllib_meta.registry import algorithm_names, get_algorithm_class
from rllib_meta.stop_criteria import check_stop, result_groups
from rllib_meta.yaml_loader import SourceDict, deep_merge, load_yaml, location

EXPERIMENT_KEYS = (
    "checkpoint_config",
    "config",
    "env",
    "num_samples",
    "run",
    "stop",
    "storage_path",
)
DEFAULT_STORAGE_PATH = "~/ray_results"


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One experiment as written by the user (file or flags), before validation."""

    name: str
    run: str
    config: Mapping[str, Any]
    stop: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    checkpoint_config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    num_samples: int = 1
    storage_path: str = DEFAULT_STORAGE_PATH
    where: str = ""


@dataclasses.dataclass(frozen=True)
class Overrides:
    """Command-line overrides of an experiment (``None`` = keep the file's value)."""

    stop: Mapping[str, Any] | None = None
    config: Mapping[str, Any] | None = None
    num_samples: int | None = None
    checkpoint_frequency: int | None = None
    checkpoint_at_end: bool | None = None
    storage_path: str | None = None


@dataclasses.dataclass(frozen=True)
class PreparedExperiment:
    """A validated experiment, ready for Tune."""

    experiment: Experiment
    algorithm_class: type
    param_space: dict
    has_search_spaces: bool

    @property
    def path(self) -> str:
        return os.path.join(self.experiment.storage_path, self.experiment.name)


def _expect_mapping(value: Any, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what}: expected a mapping, got {type(value).__name__} {value!r}.")
    return value


def _experiment_from_mapping(name: str, body: Mapping, where: str) -> Experiment:
    body = _expect_mapping(body, f"{where} (experiment {name!r})")
    for key in body:
        if key not in EXPERIMENT_KEYS:
            raise unknown_choice("experiment key", key, EXPERIMENT_KEYS, location(body, key))
    if "run" not in body:
        raise ConfigError(f"{where}: experiment {name!r} has no `run:` (the algorithm name).")
    config = SourceDict(_expect_mapping(body.get("config", {}), f"{where} config"))
    config.locations.update(getattr(body.get("config"), "locations", {}))
    if "env" in body:
        if "env" in config and config["env"] != body["env"]:
            raise ConfigError(
                f"{location(body, 'env')}: env {body['env']!r} differs from config.env "
                f"{config['env']!r} ({location(config, 'env')}); give it once."
            )
        config["env"] = body["env"]
        config.locations["env"] = location(body, "env")
    return Experiment(
        name=str(name),
        run=body["run"],
        config=config,
        stop=_expect_mapping(body.get("stop", {}), f"{where} stop"),
        checkpoint_config=_expect_mapping(
            body.get("checkpoint_config", {}), f"{where} checkpoint_config"
        ),
        num_samples=body.get("num_samples", 1),
        storage_path=body.get("storage_path", DEFAULT_STORAGE_PATH),
        where=where,
    )


def load_experiments(path: str | Path) -> list[Experiment]:
    """Read a tuned-example YAML file into its experiments (not yet validated)."""
    document = load_yaml(path)
    if not isinstance(document, Mapping) or not document:
        raise ConfigError(
            f"{path}: expected a mapping of experiment names to experiments "
            "(`my-experiment: {run: PPO, env: ipd, config: {...}}`)."
        )
    return [
        _experiment_from_mapping(name, body, location(document, name) or str(path))
        for name, body in document.items()
    ]


def experiment_from_flags(
    algo: str, env: str, config: Mapping | None = None, stop: Mapping | None = None
) -> Experiment:
    """The experiment of ``rllib train --algo NAME --env NAME``."""
    merged = SourceDict({"env": env}, locations={"env": "--env"})
    merged = deep_merge(merged, config or {}, "--config")
    return Experiment(
        name=f"{algo}_{env}".replace(":", "_").replace("/", "_"),
        run=algo,
        config=merged,
        stop=dict(stop or {}),
        where="command line",
    )


def apply_overrides(experiment: Experiment, overrides: Overrides) -> Experiment:
    """Command-line flags over the file: ``--config`` merges, ``--stop`` replaces."""
    changes: dict[str, Any] = {}
    if overrides.config:
        changes["config"] = deep_merge(experiment.config, overrides.config, "--config")
    if overrides.stop is not None:
        changes["stop"] = SourceDict(
            overrides.stop, locations=dict.fromkeys(overrides.stop, "--stop")
        )
    if overrides.num_samples is not None:
        changes["num_samples"] = overrides.num_samples
    if overrides.storage_path is not None:
        changes["storage_path"] = overrides.storage_path
    checkpoint_config = dict(experiment.checkpoint_config)
    if overrides.checkpoint_frequency is not None:
        checkpoint_config["checkpoint_frequency"] = overrides.checkpoint_frequency
    if overrides.checkpoint_at_end is not None:
        checkpoint_config["checkpoint_at_end"] = overrides.checkpoint_at_end
    changes["checkpoint_config"] = checkpoint_config
    return dataclasses.replace(experiment, **changes)


def checkpoint_config_of(experiment: Experiment) -> Any:
    """The experiment's ``tune.CheckpointConfig``, every key and value checked."""
    from ray import tune

    allowed = [f.name for f in dataclasses.fields(tune.CheckpointConfig)]
    for key in experiment.checkpoint_config:
        if key not in allowed:
            raise unknown_choice(
                "checkpoint_config key",
                key,
                allowed,
                location(experiment.checkpoint_config, key) or experiment.where,
            )
    frequency = experiment.checkpoint_config.get("checkpoint_frequency", 0)
    if not isinstance(frequency, int) or isinstance(frequency, bool) or frequency < 0:
        raise ConfigError(f"checkpoint_frequency must be an integer >= 0, got {frequency!r}.")
    try:
        return tune.CheckpointConfig(**experiment.checkpoint_config)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{experiment.where} checkpoint_config: {error}") from None


def _check_storage_path(path: str, where: str) -> None:
    """The storage path must be a directory or creatable as one: its nearest existing
    ancestor (itself, if it exists) must be a directory."""
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if str(existing) == path else f"is below the file {str(existing)!r}"
        raise ConfigError(
            f"{where}: storage_path {path!r} {what}; give a directory (--storage-path or "
            "storage_path:), created if missing."
        )


def prepare(experiment: Experiment) -> PreparedExperiment:
    """Validate everything about an experiment and build its Tune param space.

    Raises :class:`ConfigError` naming the bad key or value; needs no running Ray.
    """
    where = experiment.where
    if not isinstance(experiment.run, str):
        raise ConfigError(f"{where}: `run` must be an algorithm name, got {experiment.run!r}.")
    algorithm_class = get_algorithm_class(experiment.run)
    num_samples = experiment.num_samples
    if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples < 1:
        raise ConfigError(f"{where}: num_samples must be an integer >= 1, got {num_samples!r}.")
    if not isinstance(experiment.storage_path, str) or not experiment.storage_path:
        raise ConfigError(f"{where}: storage_path must be a path, got {experiment.storage_path!r}.")
    # Our algorithms and RLlib's report known metrics; a "module:Class" of the user's own may
    # report anything (its criteria are checked against its first result).
    strict = experiment.run in algorithm_names()
    stop = check_stop(
        experiment.stop, where or "stop", strict=strict, groups=result_groups(experiment.run)
    )
    checkpoint_config_of(experiment)
    config, has_search_spaces = build_algorithm_config(
        algorithm_class.get_default_config(), experiment.config, origin=where
    )
    storage_path = os.path.abspath(os.path.expanduser(experiment.storage_path))
    _check_storage_path(storage_path, where)
    return PreparedExperiment(
        experiment=dataclasses.replace(experiment, storage_path=storage_path, stop=stop),
        algorithm_class=algorithm_class,
        param_space=config.to_dict(),
        has_search_spaces=has_search_spaces,
    )


def parse_json_flag(text: str | None, flag: str) -> dict | None:
    """``--config`` / ``--stop`` JSON text -> dict, with a clear error."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{flag}: invalid JSON at column {error.colno}: {error.msg}.") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{flag}: expected a JSON object, got {text!r}.")
    return value
