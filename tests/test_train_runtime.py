"""Issue 18, items 1, 2, 9, 10, 12 end to end: `rllib train` never runs forever, never waits
forever, stops honestly on SIGINT/SIGTERM, resumes to a new stop, and prints no Ray noise.

In-process tests share the session's 2-CPU Ray (tests/conftest.py); the signal test needs a
process of its own to signal.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rllib_meta.cli import EXIT_BAD_INPUT, main

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def train(storage: Path, stop: dict | None, config: dict | None = None, *flags: str) -> int:
    args = ["train", "file", "tuned_examples/ppo_ipd.yaml", "--storage-path", str(storage)]
    if stop is not None:
        args += ["--stop", json.dumps(stop)]
    if config is not None:
        args += ["--config", json.dumps(config)]
    return main([*args, *flags])


def iterations(storage: Path) -> list[int]:
    (result_file,) = storage.glob("ppo-ipd/*/result.json")
    return [
        json.loads(line)["training_iteration"]
        for line in result_file.read_text().split("\n")
        if line
    ]


def test_resume_with_a_higher_stop_continues_to_it(ray_instance, tmp_path, capsys, tiny_ppo_config):
    """Item 10: Tune's restore keeps the old stop; the new --stop must win."""
    assert train(tmp_path, {"training_iteration": 1}, tiny_ppo_config) == 0
    capsys.readouterr()
    assert train(tmp_path, {"training_iteration": 3}, None, "--resume") == 0
    out = capsys.readouterr().out
    assert "iter 2 |" in out and "iter 3 |" in out and "iter 4 |" not in out, out
    assert iterations(tmp_path) == [1, 2, 3]
    # Resumed again without --stop: the stop it ran with (3, not the file's 20) is kept, and
    # it has been reached, so nothing more is trained.
    assert train(tmp_path, None, None, "--resume") == 0
    assert "iter " not in capsys.readouterr().out
    assert iterations(tmp_path) == [1, 2, 3]


def test_a_criterion_the_algorithm_never_reports_stops_after_one_iteration(
    ray_instance, tmp_path, capsys, tiny_ppo_config
):
    """Item 1's run-time half: a leaf under an open group (learners/<module>/...) can only be
    checked against a result; a typo there ends the run after its first iteration, exit 2."""
    code = train(tmp_path, {"learners/player_0/total_losss": 0.0}, tiny_ppo_config)
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert (
        "--stop: stop criteria not reported by the algorithm: 'learners/player_0/total_losss'"
        in err
    )
    assert "did you mean 'learners/player_0/total_loss'" in err
    assert iterations(tmp_path) == [1]


def test_a_request_the_cluster_cannot_place_is_refused(
    ray_instance, tmp_path, capsys, tiny_ppo_config
):
    """Item 2: 2 EnvRunners + the algorithm need 3 CPUs; the session's Ray has 2. Tune would
    wait for them forever."""
    code = train(tmp_path, {"training_iteration": 1}, {**tiny_ppo_config, "num_env_runners": 2})
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert "a trial cannot be placed on this Ray cluster (3 CPU needed, 2 available" in err
    assert "--ray-num-cpus N" in err and "num_env_runners: 2 now" in err
    assert not list(tmp_path.glob("ppo-ipd/*/result.json"))  # no trial started


NOISE = ("new API stack", "RLModule(config=", "Install gputil", "Token authentication is enabled")


def test_sigterm_stops_gracefully_with_the_resume_command(tmp_path, tiny_ppo_config):
    """Items 9 and 12: SIGTERM (what `timeout` and schedulers send), here from `timeout`
    to the command and its process group, saves the experiment state like Ctrl-C, exits
    128 + 15 and prints our --resume command (not Tune's Tuner.restore hint); Ray's notices
    are filtered, in the driver and in the trial actor.

    SIGINT takes the same handler (tests/test_runtime_guards.py); SIGTERM is the harder case:
    Ray's driver aborts on it unless our handler is installed after ray.init, and Ray's GCS
    dies of a group-wide one unless the command has left `timeout`'s process group."""
    signum = signal.SIGTERM
    command = [
        sys.executable, "-m", "rllib_meta.cli", "train", "file", "tuned_examples/ppo_ipd.yaml",
        "--stop", '{"training_iteration": 100000}',
        "--config", json.dumps(tiny_ppo_config),
        "--storage-path", str(tmp_path), "--ray-num-cpus", "1",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # Through `timeout`, which relays the SIGTERM it gets to the command and then to its whole
    # process group, as when its time runs out: Ray's own processes must not die of it.
    process = subprocess.Popen(
        ["timeout", "900", *command],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if "iter 2 |" in line:
                process.send_signal(signum)
                break
        rest, _ = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(lines) + rest
    assert process.returncode == 128 + signum, output[-3000:]
    assert f"{signal.Signals(signum).name} received: stopping the trials" in output
    assert "rllib train file tuned_examples/ppo_ipd.yaml --stop" in output
    assert output.rstrip().endswith("--resume"), output[-500:]
    assert "Tuner.restore" not in output
    for noise in NOISE:
        assert noise not in output, output
    assert (tmp_path / "ppo-ipd" / "tuner.pkl").is_file()
