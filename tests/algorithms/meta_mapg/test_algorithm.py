"""Meta-MAPG as an RLlib Algorithm: gradients, variants, distribution, meta-testing (seeded
runs and checkpoints: tests/algorithms/test_reproducibility.py)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from rllib_meta.algorithms.meta_mapg.algorithm import REINFORCE, LOLADiCE, MetaMAPG, MetaPG
from rllib_meta.algorithms.meta_mapg.env_runner import batches_from_record
from rllib_meta.algorithms.meta_mapg.meta_gradient import replay_chain
from rllib_meta.cli import main
from tests import tiny_configs
from tests.cli import train_file

pytestmark = pytest.mark.slow

TINY = tiny_configs.META_MAPG


def tiny_config(algorithm=MetaMAPG, env="ipd", **overrides):
    env_config = {"horizon": 8, **overrides.pop("env_config", {})}
    return (
        algorithm.get_default_config()
        .environment(env, env_config=env_config)
        .training(**{**TINY, **overrides})
        .debugging(seed=3)
    )


def train(algorithm, iterations: int) -> list[dict]:
    return [algorithm.train()["meta_learner"] for _ in range(iterations)]


def test_gradients_reach_the_parameters_they_belong_to(ray_instance, monkeypatch):
    # RLlib 2.60's TorchDifferentiableLearner zips gradients to the wrong module's parameters
    # when several are updated; here every parameter must get the gradient of its own loss.
    algorithm = tiny_config(use_pcgrad=False, grad_clip=None).build_algo()
    try:
        learner = algorithm.learner_group._learner
        records = algorithm.env_runner.sample_chains(1)
        captured = {}
        monkeypatch.setattr(learner, "apply_gradients", captured.update)
        learner.update_from_chains(records)
        peers = [torch.from_numpy(logits) for logits in records[0]["peer_logits"]]
        losses = replay_chain(
            learner.agent, batches_from_record(records[0]), peers, learner.replay_settings()
        )
        for loss, params in (
            (losses.actor_loss, learner.actor_parameters()),
            (losses.value_loss, learner.critic_parameters()),
        ):
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for param, grad in zip(params, grads, strict=True):
                expected = torch.zeros_like(param) if grad is None else grad
                torch.testing.assert_close(captured[learner.get_param_ref(param)], expected)
        assert len(captured) == len(learner.actor_parameters()) + len(learner.critic_parameters())
    finally:
        algorithm.stop()


@pytest.mark.parametrize(
    ("algorithm", "env", "env_config", "overrides"),
    [
        (MetaPG, "ipd", {}, {}),
        (REINFORCE, "ipd", {}, {}),
        (LOLADiCE, "ipd", {}, {}),
        (MetaMAPG, "ipd", {}, {"opponent_modeling": True}),
        (MetaMAPG, "rps", {"num_players": 3}, {}),
    ],
)
def test_variants_train_and_meta_test(ray_instance, algorithm, env, env_config, overrides):
    config = tiny_config(algorithm, env=env, env_config=env_config, **overrides)
    instance = config.build_algo()
    try:
        result = instance.train()
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] == 2 * 3 * 8 * 8
        assert np.isfinite(result["validation"]["auc"])
        tested = instance.meta_test("test")
        players = env_config.get("num_players", 2)
        num_test = len(instance.env_runner.population.indices("test"))
        assert tested["rewards"].shape == (num_test, 3, players)
        assert tested["action_probs"].shape[:3] == (num_test, 3, players)
        np.testing.assert_allclose(tested["action_probs"].sum(-1), 1.0, rtol=1e-5)
        if env == "rps":  # zero-sum at every joint policy
            np.testing.assert_allclose(tested["rewards"].sum(-1), 0.0, atol=1e-5)
    finally:
        instance.stop()


def test_remote_env_runner_and_remote_learner(ray_instance):
    config = tiny_config().env_runners(num_env_runners=1).learners(num_learners=1)
    algorithm = config.build_algo()
    try:
        result = algorithm.train()
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] == 2 * 3 * 8 * 8
        learner_state = algorithm.learner_group.get_weights()["default_policy"]
        runner_state = algorithm.env_runner_group.foreach_env_runner(
            lambda runner: runner.module.get_state(), local_env_runner=False
        )[0]
        for name, value in learner_state.items():
            np.testing.assert_array_equal(np.asarray(runner_state[name]), np.asarray(value))
    finally:
        algorithm.stop()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"chain_length": 0}, r"chain_length must be an integer >= 1, got 0"),
        ({"outer_estimator": "theorm"}, r"outer_estimator must be one of .*'theorm'"),
        ({"env": "matrix_game", "env_config": {"game": "chicken"}}, r"env must be one of"),
    ],
)
def test_bad_settings_exit_2_naming_the_value(tmp_path, capsys, override, message):
    code = main(
        [
            "train",
            "file",
            "tuned_examples/meta_mapg_ipd.yaml",
            "--config",
            json.dumps(override),
            "--storage-path",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert re.search(message, capsys.readouterr().err)


def test_cli_trains_then_meta_tests_with_plots(ray_instance, tmp_path, capsys, monkeypatch):
    config = {**TINY, "env_config": {"horizon": 8}}
    code = train_file("meta_mapg_ipd.yaml", tmp_path, 1, config)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "validation AUC" in out
    checkpoint = re.findall(r"^Checkpoint: (.+)$", out, flags=re.MULTILINE)[0]
    report = tmp_path / "report"
    assert main(["evaluate", checkpoint, checkpoint, "--output-dir", str(report)]) == 0
    out = capsys.readouterr().out
    assert "cooperating" in out and "defecting" in out and "AUC" in out
    assert (report / "adaptation_curves.png").stat().st_size > 0
    assert (report / "meta_test.json").is_file()
    assert list(report.glob("action_dynamics_MetaMAPG_*.png"))

    # Without --output-dir: beside the checkpoint, nothing in the working directory.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert main(["evaluate", checkpoint]) == 0
    checkpoint = Path(checkpoint).resolve()
    beside = checkpoint.parent / f"evaluation_{checkpoint.name}"
    assert f"wrote {beside / 'meta_test.json'}" in capsys.readouterr().out
    assert (beside / "adaptation_curves.png").stat().st_size > 0
    assert list(cwd.iterdir()) == []


def test_two_learners_take_the_step_one_learner_takes(ray_instance):
    # Each Learner replays half the chains; gathered in order, PCGrad gives every Learner the
    # update a single Learner computes from all chains.
    config = tiny_config(chains_per_iteration=4, validation_interval=0)
    single = config.build_algo()
    double = config.copy(copy_frozen=False).learners(num_learners=2).build_algo()
    try:
        records = single.env_runner.sample_chains(4)
        single.learner_group._learner.update_from_chains(records)
        expected = single.learner_group.get_weights()["default_policy"]
        double.learner_group.set_weights({"default_policy": single_initial(single, config)})
        double.learner_group.foreach_learner(lambda learner: learner.update_from_chains(records))
        states = double.learner_group.foreach_learner(
            lambda learner: learner.module["default_policy"].get_state()
        )
        for state in states:
            for name, value in expected.items():
                np.testing.assert_allclose(
                    np.asarray(state.get()[name]), np.asarray(value), rtol=1e-5, atol=1e-7
                )
    finally:
        single.stop()
        double.stop()


def single_initial(algorithm, config):
    """The initial weights of a fresh algorithm built from ``config`` (same seed)."""
    fresh = config.build_algo()
    try:
        return fresh.learner_group.get_weights()["default_policy"]
    finally:
        fresh.stop()


def test_labels_tell_ablations_apart():
    from rllib_meta.algorithms.meta_mapg.meta_test import algorithm_label

    assert algorithm_label(MetaMAPG, tiny_config()) == "MetaMAPG"
    assert algorithm_label(MetaPG, tiny_config(MetaPG)) == "MetaPG"
    assert algorithm_label(LOLADiCE, tiny_config(LOLADiCE)) == "LOLADiCE"
    assert algorithm_label(MetaMAPG, tiny_config(own_learning=False)) == (
        "MetaMAPG (no own learning)"
    )
    assert algorithm_label(MetaMAPG, tiny_config(opponent_modeling=True)) == (
        "MetaMAPG (opponent modeling)"
    )
    assert algorithm_label(MetaMAPG, tiny_config(peer_learning=False)) == (
        "MetaMAPG (no peer learning)"
    )
