"""Damaged checkpoints (issue 18, item 11): a truncated or missing file is found (by the
manifest rllib-meta's algorithms write last, and by RLlib's layout for RLlib's own algorithms),
``rllib evaluate`` refuses a damaged checkpoint naming it and what is wrong (exit 2, before Ray
starts), and a trial folder stands for its newest complete checkpoint, with a warning."""

import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from rllib_meta.algorithms.follower_learning_demo.algorithm import FollowerLearningDemo
from rllib_meta.cli import main
from rllib_meta.errors import ConfigError
from rllib_meta.evaluation.checkpoints import (
    ALGORITHM_STATE,
    MANIFEST_FILE,
    best_checkpoint,
    checkpoint_problems,
    find_checkpoint,
    load_checkpoint_info,
)
from tests import tiny_configs
from tests.evaluation.test_checkpoints import fake_checkpoint

LEARNER_STATE = "learner_group/learner/state.pkl"


@pytest.fixture(scope="module")
def saved(ray_instance, tmp_path_factory) -> dict[str, Path]:
    """One real checkpoint of an rllib-meta algorithm and one of RLlib's PPO."""
    from ray.rllib.algorithms.ppo import PPOConfig

    root = tmp_path_factory.mktemp("saved")
    demo = FollowerLearningDemo.get_default_config().update_from_dict(tiny_configs.FOLLOWER_DEMO)
    ppo = (
        PPOConfig()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=0)
        .training(train_batch_size_per_learner=64, minibatch_size=32, num_epochs=1)
        .rl_module(model_config={"fcnet_hiddens": [4]})
    )
    paths = {}
    for name, config in (("demo", demo), ("ppo", ppo)):
        algorithm = config.build_algo()
        try:
            paths[name] = Path(algorithm.save_to_path(root / name / "checkpoint_000000"))
        finally:
            algorithm.stop()
    return paths


def _copy(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination)
    return destination


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_saved_checkpoint_is_complete_and_ours_carry_a_manifest(saved):
    assert checkpoint_problems(saved["demo"]) == []
    assert checkpoint_problems(saved["ppo"]) == []
    manifest = json.loads((saved["demo"] / MANIFEST_FILE).read_text())["files"]
    assert ALGORITHM_STATE in manifest and LEARNER_STATE in manifest
    assert not (saved["ppo"] / MANIFEST_FILE).exists()  # RLlib's own: checked by its layout
    # The manifest does not get in the way of restoring.
    assert load_checkpoint_info(saved["demo"]).algorithm_class is FollowerLearningDemo


@pytest.mark.parametrize("kind", ["demo", "ppo"])
def test_truncated_and_missing_files_are_named(saved, tmp_path, kind):
    truncated = _copy(saved[kind], tmp_path / "truncated")
    _truncate(truncated / ALGORITHM_STATE)
    problems = checkpoint_problems(truncated)
    assert f"{ALGORITHM_STATE} is truncated" in problems
    if kind == "demo":  # the manifest knows the size it had
        size = (saved[kind] / ALGORITHM_STATE).stat().st_size
        assert f"{ALGORITHM_STATE} has {size // 2} bytes, {size} when saved" in problems

    missing = _copy(saved[kind], tmp_path / "missing")
    (missing / LEARNER_STATE).unlink()
    problems = checkpoint_problems(missing)
    assert "learner_group/learner/ lacks its state file (*state.pkl)" in problems
    if kind == "demo":
        assert f"{LEARNER_STATE} is missing" in problems


def test_a_changed_file_or_a_missing_manifest_is_found(saved, tmp_path):
    changed = _copy(saved["demo"], tmp_path / "changed")
    data = bytearray((changed / ALGORITHM_STATE).read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, still ends like a pickle
    (changed / ALGORITHM_STATE).write_bytes(bytes(data))
    assert checkpoint_problems(changed) == [
        f"{ALGORITHM_STATE} differs from the saved file (SHA-256)"
    ]

    unfinished = _copy(saved["demo"], tmp_path / "unfinished")
    (unfinished / MANIFEST_FILE).unlink()  # the metadata, written first, announced it
    assert checkpoint_problems(unfinished) == [
        f"{MANIFEST_FILE} is missing (the save did not finish)"
    ]


def test_evaluate_refuses_a_damaged_checkpoint_naming_it_and_the_damage(saved, tmp_path, capsys):
    damaged = _copy(saved["demo"], tmp_path / "checkpoint_000003")
    _truncate(damaged / ALGORITHM_STATE)
    (damaged / LEARNER_STATE).unlink()
    assert main(["evaluate", str(damaged)]) == 2
    err = capsys.readouterr().err
    assert f"checkpoint '{damaged}' is damaged" in err
    assert f"{ALGORITHM_STATE} is truncated" in err and f"{LEARNER_STATE} is missing" in err
    assert "Traceback" not in err

    # A folder of damaged checkpoints only: refused, each named.
    trial = tmp_path / "trial"
    _copy(damaged, trial / "checkpoint_000001")
    assert main(["evaluate", str(trial)]) == 2
    err = capsys.readouterr().err
    assert "holds no complete checkpoint" in err and "checkpoint_000001' is damaged" in err


def test_a_trial_falls_back_to_its_newest_complete_checkpoint(saved, tmp_path, caplog):
    trial = tmp_path / "trial"
    complete = _copy(saved["demo"], trial / "checkpoint_000001")
    older = _copy(saved["demo"], trial / "checkpoint_000000")
    partial = _copy(saved["demo"], trial / "checkpoint_000002")
    (partial / ALGORITHM_STATE).unlink()  # a save cut short
    # By index, not modification time: the older checkpoint was touched last.
    os.utime(older, (1e9 + 10, 1e9 + 10))
    os.utime(complete, (1e9, 1e9))
    with caplog.at_level(logging.WARNING):
        assert find_checkpoint(trial) == complete
        assert best_checkpoint(trial) == (complete, None)
    assert f"checkpoint '{partial}' is damaged" in caplog.text
    assert f"using '{complete}'" in caplog.text
    assert load_checkpoint_info(trial).path == complete


def test_the_choice_is_by_index_then_time_and_damage_is_reported_for_a_given_checkpoint(
    tmp_path,
):
    trial = tmp_path / "trial"
    first = fake_checkpoint(trial / "checkpoint_000009", 9)
    fake_checkpoint(trial / "checkpoint_000010", 10)
    os.utime(first, (2e9, 2e9))  # newer by time, older by index
    assert find_checkpoint(trial) == trial / "checkpoint_000010"
    (trial / "checkpoint_000010" / "learner_group" / "metadata.json").unlink()
    assert find_checkpoint(trial) == first
    with pytest.raises(ConfigError, match=r"learner_group/ lacks its metadata \(\*\.json\)"):
        find_checkpoint(trial / "checkpoint_000010")
    shutil.rmtree(first / "learner_group")
    with pytest.raises(ConfigError, match=r"learner_group/ is missing"):
        find_checkpoint(first)
