"""The `rllib` command on bad input: exit code 2 and a message naming the bad value.

None of these starts Ray: everything is validated first.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rllib_meta.cli import EXIT_BAD_INPUT, main

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    return str(path)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


GOOD = """\
exp:
  run: PPO
  env: ipd
  stop: {training_iteration: 1}
  config:
    lr: 0.001
"""


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            GOOD.replace("lr: 0.001", "lrr: 0.001"),
            r"experiment\.yaml:6 \(config\.lrr\): unknown config key 'lrr'\. Did you mean 'lr'",
        ),
        (GOOD.replace("run: PPO", "run: PPOO"), r"unknown algorithm 'PPOO'.*Did you mean 'PPO'"),
        (GOOD.replace("env: ipd", "env: ipdd"), r"unknown environment 'ipdd'"),
        (GOOD.replace("stop:", "stopp:"), r"experiment\.yaml:4: unknown experiment key 'stopp'"),
        (GOOD.replace("lr: 0.001", "lr: 0.001\n    lr: 0.002"), r"duplicate key 'lr'"),
        (GOOD.replace("lr: 0.001", "lr: [0.1"), r"experiment\.yaml:\d+:\d+: malformed YAML"),
        (GOOD.replace("  run: PPO\n", ""), r"has no `run:`"),
        (
            GOOD + "    num_samples: 1\n",
            r"experiment\.yaml:7 \(config\.num_samples\): unknown config key",
        ),
        (GOOD + "  num_samples: 0\n", r"num_samples must be an integer >= 1, got 0"),
        (
            GOOD.replace("stop: {training_iteration: 1}", "stop: {training_iteration: soon}"),
            r"stop\.training_iteration: expected a number",
        ),
        (  # issue 18 item 1: ran forever
            GOOD.replace("stop: {training_iteration: 1}", "stop: {train_iter: 1}"),
            r"experiment\.yaml:4: unknown stop criterion 'train_iter'.*'training_iteration'",
        ),
        (
            GOOD.replace("stop: {training_iteration: 1}", "stop: {training_iteration: -3}"),
            r"experiment\.yaml:4: stop\.training_iteration: must be >= 1, got -3",
        ),
        (
            GOOD.replace(
                "stop: {training_iteration: 1}", "stop:\n    env_runners: {episode_retrun_mean: 5}"
            ),
            r"experiment\.yaml:5: unknown stop criterion 'env_runners/episode_retrun_mean'",
        ),
        (
            GOOD + "  checkpoint_config: {checkpoint_freq: 2}\n",
            r"unknown checkpoint_config key 'checkpoint_freq'.*checkpoint_frequency",
        ),
        (GOOD.replace("lr: 0.001", "env_config: {game: chess}"), r"env_config.*game"),
        ("- a\n- b\n", r"expected a mapping of experiment names"),
    ],
)
def test_bad_yaml_exits_2_naming_the_problem(tmp_path, capsys, yaml_text, expected):
    code, _, err = run_cli(capsys, "train", "file", write(tmp_path, yaml_text))
    assert code == EXIT_BAD_INPUT
    assert re.search(expected, err), err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--config", "{lr: 1}"], r"--config: invalid JSON"),
        (["--config", '{"lrr": 1}'], r"--config \(config\.lrr\).*'lrr'"),
        (["--stop", "[1]"], r"--stop: expected a JSON object"),
        (["--stop", '{"timesteps_total": 1000}'], r"--stop: .*num_env_steps_sampled_lifetime"),
        (["--num-samples", "0"], r"num_samples must be an integer >= 1"),
        (["--checkpoint-freq", "-1"], r"checkpoint_frequency must be an integer >= 0"),
        (["--ray-num-nodes", "0"], r"--ray-num-nodes must be >= 1"),
    ],
)
def test_bad_flags_exit_2(tmp_path, capsys, flags, expected):
    import re

    code, _, err = run_cli(capsys, "train", "file", write(tmp_path, GOOD), *flags)
    assert code == EXIT_BAD_INPUT
    assert re.search(expected, err), err


def test_train_without_file_or_algo_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--algo", "PPO"])
    assert exit_info.value.code == 2
    assert "--algo and --env" in capsys.readouterr().err


def test_train_algo_env_flags_are_validated(capsys):
    code, _, err = run_cli(
        capsys,
        "train",
        "--algo",
        "PPO",
        "--env",
        "rps",
        "--config",
        '{"env_config": {"num_players": 5}}',
    )
    assert code == EXIT_BAD_INPUT
    assert "num_players" in err and "5" in err


def test_missing_file_lists_tuned_examples(capsys):
    code, _, err = run_cli(capsys, "train", "file", "ppo_ipdd.yaml")
    assert code == EXIT_BAD_INPUT
    assert "Did you mean 'ppo_ipd.yaml'" in err


def test_evaluate_refuses_a_non_checkpoint(tmp_path, capsys):
    code, _, err = run_cli(capsys, "evaluate", str(tmp_path))
    assert code == EXIT_BAD_INPUT
    assert "not an RLlib algorithm checkpoint" in err
    code, _, err = run_cli(capsys, "evaluate", str(tmp_path / "missing"))
    assert code == EXIT_BAD_INPUT and "does not exist" in err


def test_list_shows_envs_algorithms_and_tuned_examples(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for expected in ("ipd", "ipd_lola", "rps", "matrix_game", "battle_of_sexes", "PPO"):
        assert expected in out
    assert "ppo_ipd.yaml" in out and "ppo-ipd: PPO on ipd" in out
    assert "MeVa" in out and "meva_logistic.yaml" in out


def test_list_aligns_long_env_names(capsys):
    _, out, _ = run_cli(capsys, "list")
    lines = out.splitlines()

    def description_column(name: str, first_word: str) -> int:
        return next(line for line in lines if line.startswith(f"  {name} ")).index(first_word)

    assert description_column("ipd", "Iterated") == description_column(
        "treasure_collection", "Treasure"
    )


@pytest.mark.parametrize("script", ["rllib", "rllib-meta"])
def test_console_scripts_are_installed(script):
    executable = Path(sys.executable).parent / script
    result = subprocess.run(
        [str(executable), "train", "file", "does_not_exist.yaml"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert f"{script}: error:" in result.stderr


def test_meta_mapg_family_shares_one_evaluation_protocol():
    from ray.rllib.algorithms.ppo import PPO

    from rllib_meta.algorithms.meta_mapg.algorithm import REINFORCE, LOLADiCE, MetaMAPG, MetaPG
    from rllib_meta.cli import _own_evaluation

    protocols = {_own_evaluation(cls) for cls in (MetaMAPG, MetaPG, LOLADiCE, REINFORCE)}
    assert len(protocols) == 1 and None not in protocols
    assert _own_evaluation(PPO) is None


# -- issue 18, items 4 and 5: values and files refused before Ray starts ----------------------


@pytest.fixture
def no_ray(monkeypatch):
    """Fail the test if the command gets as far as starting Ray."""
    import rllib_meta.cluster

    def refuse(*args, **kwargs):
        raise AssertionError("Ray was started: the input should have been refused before")

    monkeypatch.setattr(rllib_meta.cluster, "ray_session", refuse)


@pytest.mark.parametrize(
    ("replacement", "expected"),
    [
        ("lr: -1", r"experiment\.yaml:6 \(config\.lr\): lr must be a number in \[0\.0, inf\)"),
        ("gamma: 1.5", r"experiment\.yaml:6 \(config\.gamma\): gamma must be a number in \[0"),
        ("num_epochs: one", r"experiment\.yaml:6 \(config\.num_epochs\): .* got 'one'"),
        ("seed: abc", r"experiment\.yaml:6 \(config\.seed\): seed must be an integer"),
        ("train_batch_size_per_learner: -200", r"train_batch_size_per_learner must be .* -200"),
        ("lr: {grid_search: [0.1, -1]}", r"experiment\.yaml:6 \(config\.lr\) grid_search\[1\]"),
    ],
)
def test_bad_values_exit_2_before_ray_starts(tmp_path, capsys, no_ray, replacement, expected):
    text = GOOD.replace("lr: 0.001", replacement)
    code, _, err = run_cli(capsys, "train", "file", write(tmp_path, text))
    assert code == EXIT_BAD_INPUT
    assert re.search(expected, err), err


def test_a_directory_as_the_yaml_is_named_as_such(tmp_path, capsys, no_ray):
    (tmp_path / "a.yaml").write_text(GOOD)
    code, _, err = run_cli(capsys, "train", "file", str(tmp_path))
    assert code == EXIT_BAD_INPUT
    assert "is a directory, expected a .yaml file; it holds a.yaml" in err


def test_a_binary_file_as_the_yaml_is_refused(tmp_path, capsys, no_ray):
    path = tmp_path / "model.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    code, _, err = run_cli(capsys, "train", "file", str(path))
    assert code == EXIT_BAD_INPUT
    assert "not a text file (byte 0x89 at offset 0 is not UTF-8); expected a YAML file" in err


def test_a_storage_path_that_is_a_file_is_refused(tmp_path, capsys, no_ray):
    occupied = tmp_path / "results"
    occupied.write_text("")
    for storage, what in [(occupied, "is a file"), (occupied / "sub", "is below the file")]:
        argv = ["train", "file", write(tmp_path, GOOD), "--storage-path", str(storage)]
        code, _, err = run_cli(capsys, *argv)
        assert code == EXIT_BAD_INPUT
        assert f"storage_path {str(storage)!r} {what}" in err, err


def test_stackelberg_on_an_unsupported_env_names_the_supported_ones(capsys, no_ray):
    code, _, err = run_cli(capsys, "train", "--algo", "StackelbergMeta", "--env", "ipd")
    assert code == EXIT_BAD_INPUT
    assert (
        "env must be one of ['matrix_game'], got 'ipd' (StackelbergMeta supports only these envs)"
        in err
    )
    assert "center" not in err


def test_learning_rate_suggests_lr(tmp_path, capsys, no_ray):
    text = GOOD.replace("lr: 0.001", "learning_rate: 0.001")
    code, _, err = run_cli(capsys, "train", "file", write(tmp_path, text))
    assert code == EXIT_BAD_INPUT
    assert "unknown config key 'learning_rate'. Did you mean 'lr'" in err


# -- issue 18, item 6: evaluate options that the checkpoints' evaluation does not read -------


@pytest.fixture
def fake_checkpoint(monkeypatch):
    """Make checkpoints known to ``rllib evaluate`` by their class and config alone (what
    ``load_checkpoint_info`` reads from a checkpoint's header), without training one: the
    option checks need no more, and stay independent of the checkpoint files' format."""
    import rllib_meta.evaluation
    from rllib_meta.evaluation.checkpoints import CheckpointInfo
    from rllib_meta.registry import get_algorithm_class

    known: dict[str, CheckpointInfo] = {}

    def load(path):
        return known[str(path)]

    monkeypatch.setattr(rllib_meta.evaluation, "load_checkpoint_info", load)

    def make(path: Path, algorithm: str, env: str, env_config: dict) -> str:
        algorithm_class = get_algorithm_class(algorithm)
        config = algorithm_class.get_default_config().environment(env, env_config=env_config)
        known[str(path)] = CheckpointInfo(path=path, algorithm_class=algorithm_class, config=config)
        return str(path)

    return make


@pytest.mark.parametrize(
    ("algorithm", "env", "env_config", "flags", "expected"),
    [
        (
            "PPO",
            "ipd",
            {},
            ["--split", "bogus"],
            r"--split does not apply to PPO checkpoints; the options their evaluation reads: "
            r"--episodes, --greedy, --seed\.",
        ),
        ("PPO", "ipd", {}, ["--output-dir", "x"], r"--output-dir does not apply to PPO"),
        (
            "MetaMAPG",
            "ipd",
            {},
            ["--split", "bogus"],
            r"--split 'bogus' is not allowed for these checkpoints: 'train', 'val', 'test', "
            r"'test_ood'\.",
        ),
        (
            "MetaMAPG",
            "rps",
            {},
            ["--split", "test_ood"],  # the RPS population has no out-of-distribution split
            r"--split 'test_ood' is not allowed for these checkpoints: 'train', 'val', 'test'\.",
        ),
        (
            "MetaMAPG",
            "ipd",
            {},
            ["--episodes", "5"],
            r"--episodes does not apply to MetaMAPG checkpoints; .* --split, --seed, --output-dir",
        ),
        (
            "StackelbergMeta",
            "matrix_game",
            {"game": "prisoners_dilemma"},
            ["--greedy"],
            r"--greedy does not apply to StackelbergMeta checkpoints; .*: --output-dir\.",
        ),
        ("MeVa", "logistic_game", {}, ["--seed", "3"], r"--seed does not apply to MeVa"),
    ],
)
def test_evaluate_refuses_options_its_protocol_does_not_read(
    tmp_path, capsys, no_ray, fake_checkpoint, algorithm, env, env_config, flags, expected
):
    checkpoint = fake_checkpoint(tmp_path / "checkpoint_000000", algorithm, env, env_config)
    code, _, err = run_cli(capsys, "evaluate", checkpoint, *flags)
    assert code == EXIT_BAD_INPUT
    assert re.search(expected, err), err


@pytest.mark.parametrize(
    ("algorithm", "env", "flags"),
    [
        ("PPO", "ipd", ["--episodes", "3", "--greedy", "--seed", "1"]),
        ("MetaMAPG", "ipd", ["--split", "test_ood", "--seed", "2", "--output-dir", "out"]),
        ("MeVa", "ipd_exact", ["--seed", "2", "--output-dir", "out"]),
    ],
)
def test_evaluate_takes_the_options_its_protocol_reads(
    tmp_path, no_ray, fake_checkpoint, algorithm, env, flags
):
    checkpoint = fake_checkpoint(tmp_path / "checkpoint_000000", algorithm, env, {})
    with pytest.raises(AssertionError, match="Ray was started"):  # past every check
        main(["evaluate", checkpoint, *flags])


def test_evaluate_refuses_an_algorithm_without_an_episode_evaluation(
    tmp_path, capsys, no_ray, fake_checkpoint
):
    """The follower-learning demo samples its own batches: the generic evaluation crashed on
    them after Ray started (``'str' object has no attribute 'agent_episodes'``)."""
    checkpoint = fake_checkpoint(
        tmp_path / "checkpoint_000000", "FollowerLearningDemo", "battle_of_sexes", {}
    )
    code, _, err = run_cli(capsys, "evaluate", checkpoint)
    assert code == EXIT_BAD_INPUT
    assert "FollowerLearningDemo checkpoints have no `rllib evaluate`" in err


def test_unreachable_ray_address_fails_fast(tmp_path):
    """Issue 18 item 3: `--ray-address 127.0.0.1:1` retried for minutes; now one clear error.

    A process of its own: in this one the session's Ray may already be up (and reused)."""
    command = [sys.executable, "-m", "rllib_meta.cli", "train", "file", write(tmp_path, GOOD)]
    result = subprocess.run(
        [*command, "--ray-address", "127.0.0.1:1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == EXIT_BAD_INPUT, result.stderr[-2000:]
    assert "--ray-address '127.0.0.1:1': cannot reach a Ray cluster there" in result.stderr
    assert "Traceback" not in result.stderr
