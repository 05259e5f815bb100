"""Checkpoint discovery, model selection on validation, and where evaluations write."""

import json
import pickle
from pathlib import Path

import pytest

from rllib_meta.errors import ConfigError
from rllib_meta.evaluation.checkpoints import (
    CTOR_FILE,
    best_checkpoint,
    find_checkpoint,
    output_directory,
)


def fake_checkpoint(checkpoint: Path, iteration: int) -> Path:
    """The files of RLlib's checkpoint layout that the completeness check reads (an
    algorithm's folder and its learner_group/), with ``iteration`` in the algorithm state."""
    for folder, state_name, metadata in (
        (checkpoint, "algorithm_state.pkl", "rllib_checkpoint.json"),
        (checkpoint / "learner_group", "state.pkl", "metadata.json"),
    ):
        folder.mkdir(parents=True)
        (folder / CTOR_FILE).write_bytes(pickle.dumps({"class": None}))
        (folder / metadata).write_text("{}")
        with open(folder / state_name, "wb") as file:
            pickle.dump({"training_iteration": iteration}, file)
    return checkpoint


def fake_trial(trial, aucs_by_iteration, checkpoint_iterations):
    trial.mkdir(parents=True)
    rows = [{"training_iteration": i, "validation": {"auc": a}} for i, a in aucs_by_iteration]
    (trial / "result.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    for index, iteration in enumerate(checkpoint_iterations):
        fake_checkpoint(trial / f"checkpoint_{index:06d}", iteration)
    return trial


def test_best_checkpoint_is_chosen_by_validation_auc(tmp_path):
    trial = fake_trial(tmp_path / "exp" / "trial", [(10, 0.5), (20, 0.9), (30, 0.2)], [20, 30])
    path, auc = best_checkpoint(tmp_path / "exp")
    assert path == trial / "checkpoint_000000" and auc == 0.9
    assert best_checkpoint(path) == (path, None)  # a checkpoint is taken as given


def test_without_validation_the_newest_checkpoint_is_used(tmp_path):
    trial = fake_trial(tmp_path / "trial", [], [5, 10])
    path, auc = best_checkpoint(trial)
    assert auc is None and path == find_checkpoint(trial)


def test_a_directory_without_checkpoints_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not an RLlib algorithm checkpoint"):
        find_checkpoint(tmp_path)


def test_relative_paths_come_back_absolute(tmp_path, monkeypatch):
    # RLlib's from_checkpoint goes through pyarrow, which refuses relative paths.
    fake_trial(tmp_path / "trial", [(5, 0.1)], [5])
    monkeypatch.chdir(tmp_path)
    path, _ = best_checkpoint("trial")
    assert path.is_absolute() and find_checkpoint("trial").is_absolute()


def test_evaluations_write_next_to_the_first_path_given(tmp_path, monkeypatch):
    trial = fake_trial(tmp_path / "exp" / "trial", [], [5, 10])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert output_directory([tmp_path / "exp", trial]) == tmp_path / "exp" / "evaluation"
    assert output_directory([str(trial)]) == trial / "evaluation"
    checkpoint = trial / "checkpoint_000000"
    # A checkpoint stays untouched: its results go beside it, under a name that is no
    # checkpoint_* (which find_checkpoint and the experiment scripts glob for).
    assert output_directory([checkpoint]) == trial / "evaluation_checkpoint_000000"
    assert output_directory([checkpoint], "given") == Path("given")
    assert output_directory(["../exp/trial"]) == trial / "evaluation"  # absolute
    newest = find_checkpoint(trial)
    assert list(elsewhere.iterdir()) == []
    # Writing there leaves the choice of the newest checkpoint as it was.
    output_directory([checkpoint]).mkdir()
    assert find_checkpoint(trial) == newest
