"""The `rllib` command end to end on tiny configs, in one shared Ray instance."""

import json
import re
from pathlib import Path

import pytest

from rllib_meta.cli import main
from tests.cli import train_file

pytestmark = pytest.mark.slow


def test_train_checkpoint_then_evaluate(ray_instance, tmp_path, capsys, tiny_ppo_config):
    code = train_file("ppo_ipd.yaml", tmp_path, 1, tiny_ppo_config)
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"iter 1 \| env steps \d+ \| return", out), out
    checkpoints = re.findall(r"^Checkpoint: (.+)$", out, flags=re.MULTILINE)
    assert len(checkpoints) == 1
    checkpoint = Path(checkpoints[0])
    assert (checkpoint / "class_and_ctor_args.pkl").is_file()

    code = main(["evaluate", str(checkpoint), "--episodes", "4"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PPO on ipd: 4 episodes, sampled actions" in out
    rows = re.findall(
        r"^(player_\d)\s+(player_\d)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)$", out, re.M
    )
    assert [(agent, module) for agent, module, *_ in rows] == [
        ("player_0", "player_0"),
        ("player_1", "player_1"),
    ]
    for _, _, mean_return, _, per_step in rows:
        # horizon 10 (tiny config): payoffs per step lie in [-1.5, 1.5]
        assert -1.5 <= float(per_step) <= 1.5
        assert float(mean_return) == pytest.approx(10 * float(per_step), abs=1e-3)

    # The experiment directory also works: its newest checkpoint is used.
    assert main(["evaluate", str(tmp_path / "ppo-ipd"), "--episodes", "2", "--greedy"]) == 0
    assert "greedy actions" in capsys.readouterr().out

    # Resuming the finished experiment restores its state and reports the same checkpoint.
    resume = ["train", "file", "tuned_examples/ppo_ipd.yaml", "--resume"]
    assert main([*resume, "--storage-path", str(tmp_path)]) == 0
    assert f"Checkpoint: {checkpoint}" in capsys.readouterr().out


def test_two_trial_grid_search(ray_instance, tmp_path, capsys, tiny_ppo_config):
    code = main(
        [
            "train",
            "file",
            "tuned_examples/ppo_ipd_lr_grid.yaml",
            "--stop",
            '{"training_iteration": 1}',
            "--config",
            json.dumps({k: v for k, v in tiny_ppo_config.items() if k != "lr"}),
            "--storage-path",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    trial_params = [
        json.loads(path.read_text())
        for path in (tmp_path / "ppo-ipd-lr-grid").glob("*/params.json")
    ]
    assert sorted(params["lr"] for params in trial_params) == [0.0001, 0.001]
    assert len(re.findall(r"^Checkpoint: ", out, flags=re.MULTILINE)) == 2


def test_resume_needs_an_existing_experiment(ray_instance, tmp_path, capsys):
    code = main(
        [
            "train",
            "file",
            "tuned_examples/ppo_ipd.yaml",
            "--resume",
            "--storage-path",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "no Tune experiment to resume" in capsys.readouterr().err
