"""Locating and reading RLlib algorithm checkpoints without building the algorithm, and where
``rllib evaluate`` writes what it finds about them."""

import dataclasses
import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rllib_meta.errors import ConfigError

CTOR_FILE = "class_and_ctor_args.pkl"  # Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME
EVALUATION_DIR = "evaluation"


@dataclasses.dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint says about itself: the Algorithm class and the config it ran with."""

    path: Path
    algorithm_class: type
    config: Any


def find_checkpoint(path: str | Path) -> Path:
    """An algorithm checkpoint directory, given it, a trial directory or an experiment directory.

    For a trial or experiment directory the newest ``checkpoint_*`` below it is used.
    """
    path = Path(path).expanduser().resolve()  # absolute: pyarrow refuses relative URIs
    if not path.exists():
        raise ConfigError(f"checkpoint {str(path)!r} does not exist.")
    if (path / CTOR_FILE).is_file():
        return path
    candidates = [p.parent for p in path.glob("**/checkpoint_*/" + CTOR_FILE)]
    if not candidates:
        raise ConfigError(
            f"{str(path)!r} is not an RLlib algorithm checkpoint (no {CTOR_FILE}) and holds none; "
            "checkpoints are the checkpoint_NNNNNN folders of a Tune trial."
        )
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name))


def output_directory(paths: Sequence[str | Path], output_dir: str | Path | None = None) -> Path:
    """Where ``rllib evaluate`` writes its tables and plots: ``output_dir`` when given, else
    next to the first of ``paths`` (as the user gave them), never in the working directory.

    A trial or experiment directory ``X`` gets ``X/evaluation/``; a checkpoint
    ``trial/checkpoint_000003`` gets ``trial/evaluation_checkpoint_000003/``, beside it: a
    checkpoint itself stays untouched, since a folder written into it would change its
    modification time, by which :func:`find_checkpoint` picks a trial's newest checkpoint,
    and the name does not match the ``checkpoint_*`` globs that look for checkpoints.
    """
    if output_dir:
        return Path(output_dir)
    if not paths:
        raise ValueError("output_directory needs the evaluated paths or an output_dir")
    first = Path(paths[0]).expanduser().resolve()
    if (first / CTOR_FILE).is_file():
        return first.parent / f"{EVALUATION_DIR}_{first.name}"
    return first / EVALUATION_DIR


def load_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """Read the Algorithm class and its config from a checkpoint."""
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

    path = find_checkpoint(path)
    try:
        with open(path / CTOR_FILE, "rb") as file:
            ctor_info = pickle.load(file)
        config = AlgorithmConfig.from_state(ctor_info["ctor_args_and_kwargs"][0][0])
        algorithm_class = ctor_info["class"]
    except (OSError, pickle.UnpicklingError, KeyError, IndexError, EOFError) as error:
        raise ConfigError(f"cannot read checkpoint {str(path)!r}: {error!r}") from None
    return CheckpointInfo(path=path, algorithm_class=algorithm_class, config=config)


def _metric(row: dict, metric: str) -> float | None:
    value: object = row
    for part in metric.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _trial_metric_by_iteration(trial_dir: Path, metric: str) -> dict[int, float]:
    """``metric`` at every training iteration, from the Tune trial's ``result.json``."""
    found: dict[int, float] = {}
    result_file = trial_dir / "result.json"
    if not result_file.is_file():
        return found
    for line in result_file.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written
        value = _metric(row, metric)
        if value is not None and isinstance(row.get("training_iteration"), int):
            found[row["training_iteration"]] = value
    return found


def best_checkpoint(path: str | Path, metric: str = "validation/auc") -> tuple[Path, float | None]:
    """The checkpoint below ``path`` with the highest ``metric`` at its training iteration
    (model selection on validation, paper 001 App. D), with that value.

    ``path`` may be a checkpoint (returned as is), a trial or an experiment directory. The
    iteration of a checkpoint is read from its ``algorithm_state.pkl``, the metric from the
    trial's ``result.json``; without them the newest checkpoint is returned.
    """
    path = Path(path).expanduser().resolve()  # absolute: pyarrow refuses relative URIs
    if (path / CTOR_FILE).is_file():
        return path, None
    scored = []
    for checkpoint in (p.parent for p in path.glob("**/checkpoint_*/" + CTOR_FILE)):
        try:
            with open(checkpoint / "algorithm_state.pkl", "rb") as file:
                iteration = pickle.load(file).get("training_iteration")
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            continue
        value = _trial_metric_by_iteration(checkpoint.parent, metric).get(iteration)
        if value is not None:
            scored.append((value, iteration, checkpoint))
    if not scored:
        return find_checkpoint(path), None
    value, _, checkpoint = max(scored, key=lambda item: (item[0], item[1]))
    return checkpoint, value
