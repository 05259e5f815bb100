"""Locating and reading RLlib algorithm checkpoints without building the algorithm."""

import dataclasses
import pickle
from pathlib import Path
from typing import Any

from rllib_meta.errors import ConfigError

CTOR_FILE = "class_and_ctor_args.pkl"  # Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME


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
    path = Path(path).expanduser()
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
