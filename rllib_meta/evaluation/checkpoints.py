"""Locating and reading RLlib algorithm checkpoints without building the algorithm, checking
that they are complete, and where ``rllib evaluate`` writes what it finds about them.

A checkpoint is complete when

* (every RLlib checkpoint) each of its ``Checkpointable`` folders (the algorithm's and its
  components': ``learner_group/``, ``env_runner/``, ..., recognised by their
  ``class_and_ctor_args.pkl``) holds its metadata (``*.json``) and its state file (``*state.pkl``
  or ``*state.msgpack``, which RLlib writes last), every pickle ends with pickle's STOP opcode
  (a truncated one does not), and the algorithm's folder has its ``learner_group/``;
* (checkpoints of rllib-meta's algorithms, whose ``save_to_path`` writes :data:`MANIFEST_FILE`
  after everything else, and announces it in the metadata it writes first) the manifest is
  there and every file it lists has the size and SHA-256 it had when saved.

A damaged checkpoint given as such is refused naming what is missing or damaged; a trial or
experiment folder stands for its newest complete checkpoint (newest: the highest
``checkpoint_NNNNNN`` index, then the latest modification), with a warning for each newer
damaged one passed over.
"""

import dataclasses
import hashlib
import json
import logging
import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rllib_meta.errors import ConfigError

CTOR_FILE = "class_and_ctor_args.pkl"  # Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME
ALGORITHM_METADATA = "rllib_checkpoint.json"  # Algorithm.METADATA_FILE_NAME
ALGORITHM_STATE = "algorithm_state.pkl"  # Algorithm.STATE_FILE_NAME + ".pkl"
LEARNER_GROUP = "learner_group"  # COMPONENT_LEARNER_GROUP: every new-API-stack Algorithm's
MANIFEST_FILE = "rllib_meta_manifest.json"
MANIFEST_KEY = "rllib_meta_manifest"  # in the metadata: this checkpoint has a manifest
EVALUATION_DIR = "evaluation"
# Files a checkpoint folder may hold: one of them makes a folder a (possibly damaged) checkpoint.
_CHECKPOINT_FILES = (CTOR_FILE, ALGORITHM_METADATA, ALGORITHM_STATE, MANIFEST_FILE)
_PICKLE_STOP = b"."

logger = logging.getLogger(__name__)


# -- completeness ------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(checkpoint: str | Path) -> Path:
    """Write :data:`MANIFEST_FILE` into ``checkpoint``: every other file below it with its
    size and SHA-256. Written last by a save, it marks the checkpoint complete."""
    checkpoint = Path(checkpoint)
    files = {
        path.relative_to(checkpoint).as_posix(): {
            "size": path.stat().st_size,
            "sha256": _sha256(path),
        }
        for path in sorted(checkpoint.rglob("*"))
        if path.is_file() and path.name != MANIFEST_FILE
    }
    manifest = checkpoint / MANIFEST_FILE
    partial = manifest.with_suffix(".partial")
    partial.write_text(json.dumps({"format": 1, "files": files}, indent=1))
    partial.replace(manifest)  # atomic: a manifest is whole or absent
    return manifest


def _manifest_problems(checkpoint: Path) -> list[str]:
    manifest = checkpoint / MANIFEST_FILE
    try:
        files = json.loads(manifest.read_text())["files"]
    except FileNotFoundError:
        return [f"{MANIFEST_FILE} is missing (the save did not finish)"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [f"{MANIFEST_FILE} is unreadable ({error})"]
    problems = []
    for name, expected in files.items():
        path = checkpoint / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif (size := path.stat().st_size) != expected["size"]:
            problems.append(f"{name} has {size} bytes, {expected['size']} when saved")
        elif _sha256(path) != expected["sha256"]:
            problems.append(f"{name} differs from the saved file (SHA-256)")
    return problems


def _announces_manifest(checkpoint: Path) -> bool:
    try:
        return bool(json.loads((checkpoint / ALGORITHM_METADATA).read_text()).get(MANIFEST_KEY))
    except (OSError, ValueError, AttributeError):
        return False


def _layout_problems(checkpoint: Path) -> list[str]:
    """RLlib's layout (module docstring): what every new-API-stack checkpoint must hold."""
    problems = []
    if not (checkpoint / LEARNER_GROUP).is_dir():
        problems.append(f"{LEARNER_GROUP}/ is missing")
    for folder in sorted({checkpoint, *(p for p in checkpoint.rglob("*") if p.is_dir())}):
        where = folder.relative_to(checkpoint).as_posix()
        label = "the checkpoint folder" if where == "." else f"{where}/"
        names = {p.name for p in folder.iterdir() if p.is_file()}
        has_state = any(re.fullmatch(r".*state\.(pkl|msgpack)", name) for name in names)
        has_metadata = any(name.endswith(".json") and name != MANIFEST_FILE for name in names)
        if not any(folder.iterdir()):
            problems.append(f"{label} is empty")
        elif not (CTOR_FILE in names or has_state or has_metadata):
            continue  # not a Checkpointable's folder
        else:
            missing = [
                what
                for what, there in (
                    (CTOR_FILE, CTOR_FILE in names),
                    ("its metadata (*.json)", has_metadata),
                    ("its state file (*state.pkl)", has_state),
                )
                if not there
            ]
            problems += [f"{label} lacks {what}" for what in missing]
    for path in sorted(checkpoint.rglob("*.pkl")):
        if not _ends_like_a_pickle(path):
            problems.append(f"{path.relative_to(checkpoint).as_posix()} is truncated")
    return problems


def _ends_like_a_pickle(path: Path) -> bool:
    with open(path, "rb") as file:
        file.seek(0, 2)
        if file.tell() == 0:
            return False
        file.seek(-1, 2)
        return file.read(1) == _PICKLE_STOP


def checkpoint_problems(checkpoint: str | Path) -> list[str]:
    """What is missing or damaged in ``checkpoint`` (empty: it is complete; module
    docstring)."""
    checkpoint = Path(checkpoint)
    problems = _layout_problems(checkpoint)
    if (checkpoint / MANIFEST_FILE).exists() or _announces_manifest(checkpoint):
        problems += [p for p in _manifest_problems(checkpoint) if p not in problems]
    return problems


def _is_checkpoint_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in _CHECKPOINT_FILES)


def _damaged(checkpoint: Path, problems: list[str]) -> str:
    return f"checkpoint {str(checkpoint)!r} is damaged: {'; '.join(problems)}"


def _newest_first(checkpoints: list[Path]) -> list[Path]:
    def key(path: Path) -> tuple[int, float, str]:
        match = re.fullmatch(r"checkpoint_(\d+)", path.name)
        return (int(match.group(1)) if match else -1, path.stat().st_mtime, str(path))

    return sorted(checkpoints, key=key, reverse=True)


def _checkpoints_below(path: Path) -> list[Path]:
    """Every checkpoint folder (complete or not) below ``path``, newest first."""
    return _newest_first([p for p in path.glob("**/checkpoint_*") if _is_checkpoint_folder(p)])


def _warn_skipped(skipped: list[tuple[Path, list[str]]], chosen: Path | None) -> None:
    for checkpoint, problems in skipped:
        instead = f"; using {str(chosen)!r}" if chosen is not None else ""
        logger.warning("%s: skipped%s.", _damaged(checkpoint, problems), instead)


@dataclasses.dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint says about itself: the Algorithm class and the config it ran with."""

    path: Path
    algorithm_class: type
    config: Any


def find_checkpoint(path: str | Path) -> Path:
    """An algorithm checkpoint directory, given it, a trial directory or an experiment directory.

    A checkpoint given must be complete (:func:`checkpoint_problems`); for a trial or
    experiment directory the newest complete ``checkpoint_*`` below it is used (the highest
    index, then the latest modification), with a warning for each newer damaged one.
    """
    path = Path(path).expanduser().resolve()  # absolute: pyarrow refuses relative URIs
    if not path.exists():
        raise ConfigError(f"checkpoint {str(path)!r} does not exist.")
    if _is_checkpoint_folder(path):
        if problems := checkpoint_problems(path):
            raise ConfigError(_damaged(path, problems) + ".")
        return path
    candidates = _checkpoints_below(path)
    if not candidates:
        raise ConfigError(
            f"{str(path)!r} is not an RLlib algorithm checkpoint (no {CTOR_FILE}) and holds none; "
            "checkpoints are the checkpoint_NNNNNN folders of a Tune trial."
        )
    skipped = []
    for candidate in candidates:
        if problems := checkpoint_problems(candidate):
            skipped.append((candidate, problems))
            continue
        _warn_skipped(skipped, candidate)
        return candidate
    raise ConfigError(
        f"{str(path)!r} holds no complete checkpoint: "
        + " / ".join(_damaged(checkpoint, problems) for checkpoint, problems in skipped)
        + "."
    )


def output_directory(paths: Sequence[str | Path], output_dir: str | Path | None = None) -> Path:
    """Where ``rllib evaluate`` writes its tables and plots: ``output_dir`` when given, else
    next to the first of ``paths`` (as the user gave them), never in the working directory.

    A trial or experiment directory ``X`` gets ``X/evaluation/``; a checkpoint
    ``trial/checkpoint_000003`` gets ``trial/evaluation_checkpoint_000003/``, beside it: a
    checkpoint itself stays untouched (a folder written into it would change its
    modification time, by which :func:`find_checkpoint` breaks ties of the checkpoint index,
    and its manifest would not list it), and the name does not match the ``checkpoint_*``
    globs that look for checkpoints.
    """
    if output_dir:
        return Path(output_dir)
    if not paths:
        raise ValueError("output_directory needs the evaluated paths or an output_dir")
    first = Path(paths[0]).expanduser().resolve()
    if _is_checkpoint_folder(first):
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

    ``path`` may be a checkpoint (returned as is, if complete), a trial or an experiment
    directory, whose damaged checkpoints are passed over with a warning. The iteration of a
    checkpoint is read from its ``algorithm_state.pkl``, the metric from the trial's
    ``result.json``; without them the newest complete checkpoint is returned.
    """
    path = Path(path).expanduser().resolve()  # absolute: pyarrow refuses relative URIs
    if _is_checkpoint_folder(path):
        return find_checkpoint(path), None
    scored, skipped = [], []
    for checkpoint in _checkpoints_below(path):
        if problems := checkpoint_problems(checkpoint):
            skipped.append((checkpoint, problems))
            continue
        try:
            with open(checkpoint / ALGORITHM_STATE, "rb") as file:
                iteration = pickle.load(file).get("training_iteration")
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            continue
        value = _trial_metric_by_iteration(checkpoint.parent, metric).get(iteration)
        if value is not None:
            scored.append((value, iteration, checkpoint))
    if not scored:
        return find_checkpoint(path), None
    value, _, checkpoint = max(scored, key=lambda item: (item[0], item[1]))
    _warn_skipped(skipped, checkpoint)
    return checkpoint, value
