"""The 2-agent HalfCheetah teammate population: one command, deterministic, loadable, splits in
the paper's proportions, and a missing population's error naming the command."""

import filecmp
import json

import numpy as np
import pytest
import torch
from torch.func import functional_call

from rllib_meta.algorithms.meta_mapg.teammates import (
    COMMAND,
    MANIFEST,
    PopulationNotFoundError,
    TeammateSettings,
    load_teammate_population,
    main,
    population_splits,
    teammate_network,
)
from rllib_meta.errors import ConfigError

REASON = 'needs the mujoco extra: pip install "rllib-meta[mujoco]"'
TINY = ["--iterations", "4", "--trajectories", "3", "--horizon", "6"]


def needs_mujoco() -> None:
    pytest.importorskip("mujoco", reason=REASON)
    pytest.importorskip("gymnasium_robotics", reason=REASON)


def test_paper_splits_at_500_iterations():
    splits = population_splits(500, seed=0)
    assert (len(splits["train"]), len(splits["val"])) == (275, 25)
    assert sorted(splits["train"] + splits["val"]) == list(range(300))
    assert splits["test"] == list(range(475, 501))
    assert population_splits(500, seed=0) == splits
    assert population_splits(500, seed=1)["val"] != splits["val"]


def test_scaled_splits_and_the_smallest_run():
    splits = population_splits(200, seed=0)
    assert (len(splits["train"]), len(splits["val"])) == (110, 10)
    assert splits["test"] == list(range(190, 201))
    smallest = population_splits(4, seed=0)
    assert sorted(smallest["train"] + smallest["val"]) == [0, 1]
    assert smallest["test"] == [3, 4]
    with pytest.raises(ValueError, match=r"leave the split\(s\) \['train'\] empty"):
        population_splits(3, seed=0)
    with pytest.raises(ValueError, match="iterations must be an integer >= 4"):
        TeammateSettings(iterations=3)


def test_tiny_run_is_deterministic_and_loads(tmp_path, capsys):
    needs_mujoco()
    for name in ("a", "b"):
        main(["--out", str(tmp_path / name), "--seed", "3", *TINY])
    main(["--out", str(tmp_path / "c"), "--seed", "4", *TINY])
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == [MANIFEST] + [f"teammate_{i:04d}.npz" for i in range(5)]
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, False)
    assert (mismatch, errors) == ([], []) and match == files  # byte-identical
    assert not filecmp.cmp(tmp_path / "a" / files[-1], tmp_path / "c" / files[-1], False)
    assert "wrote" in capsys.readouterr().out

    population = load_teammate_population(tmp_path / "a")
    assert len(population.checkpoint_params) == 5
    manifest = json.loads((tmp_path / "a" / MANIFEST).read_text())
    assert manifest["settings"]["seed"] == 3 and manifest["direction"] == -1
    assert len(manifest["mean_return"]) == 5
    assert {k: list(v) for k, v in population.splits.items()} == population_splits(4, 3)
    # Each checkpoint is the teammate network's parameter dict; successive ones differ.
    network = population.network()
    first, last = population.checkpoint_params[0], population.checkpoint_params[-1]
    assert set(first) == {name for name, _ in network.named_parameters()}
    assert any(not torch.equal(first[k], last[k]) for k in first)
    outputs = functional_call(network, last, (torch.zeros(2, 6, 17),))
    assert outputs.shape == (2, 6, 6)
    from envs.mujoco import batched
    from rllib_meta.algorithms.meta_mapg import teammates

    assert (teammates.OBS_DIM, teammates.LEG_DIM) == (batched.OBS_DIM, batched.LEG_DIM)


def test_out_directory_with_a_population_is_refused(tmp_path):
    needs_mujoco()
    (tmp_path / MANIFEST).write_text("{}")
    with pytest.raises(SystemExit) as error:
        main(["--out", str(tmp_path), *TINY])
    assert error.value.code == 2


def test_bad_flags_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as error:
        main(["--out", "x", "--iterations", "1"])
    assert error.value.code == 2
    assert "iterations must be an integer >= 4" in capsys.readouterr().err


def test_missing_population_names_the_command(tmp_path):
    with pytest.raises(PopulationNotFoundError, match=f"`{COMMAND} --out {tmp_path}`") as error:
        load_teammate_population(tmp_path)
    assert isinstance(error.value, ConfigError) and isinstance(error.value, FileNotFoundError)
    (tmp_path / MANIFEST).write_text(
        json.dumps(
            {
                "format": 1,
                "checkpoints": ["teammate_0000.npz"],
                "splits": {"train": [0], "val": [0], "test": [0]},
                "mean_return": [0.0],
                "network": {"hidden": 64},
            }
        )
    )
    with pytest.raises(PopulationNotFoundError, match=r"teammate_0000\.npz is missing"):
        load_teammate_population(tmp_path)


def test_teammate_network_is_the_papers():
    network = teammate_network()
    assert network.encoder.in_features == 17 and network.hidden == 64
    assert network.head.out_features == 6  # mean and log-std of 3 torques
    assert np.isclose(network.distribution.min_log_std, -5.0)
