"""MeVa, COLA, LOLA, HOLA and naive learning as RLlib algorithms: training, rewards and TD
targets, distribution, the CLI and bad configuration (seeded runs and checkpoints:
tests/algorithms/test_reproducibility.py)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from envs.differentiable.games import LogisticGame
from rllib_meta.algorithms.meta_value import learning_dynamics
from rllib_meta.algorithms.meta_value.algorithm import COLA, LOLA, MeVa, NaiveLearning
from rllib_meta.algorithms.meta_value.learning_dynamics import (
    LearnedRule,
    basin_grid,
    in_solution_b,
    learned_field,
    model_free_field,
    run_field,
)
from rllib_meta.cli import main
from rllib_meta.core.rule_fields import RuleSpec
from tests import tiny_configs
from tests.cli import train_file

pytestmark = pytest.mark.slow

TINY_IPD = tiny_configs.MEVA_IPD


def _build(algorithm_class, env, settings):
    config = algorithm_class.get_default_config().environment(env)
    return config.update_from_dict(dict(settings)).build_algo()


def _metrics(result):
    return {k: float(v) for k, v in result["policy_pairs"].items()}


def _train(algorithm, iterations):
    return [_metrics(algorithm.train()) for _ in range(iterations)]


def test_a_short_meva_run_enlarges_the_basin_of_b_relative_to_naive(ray_instance):
    algorithm = _build(MeVa, "logistic_game", {"policy_pairs": 64, "seed": 0})
    try:
        _train(algorithm, 70)
        model = algorithm.env_runner.module.model
    finally:
        algorithm.stop()
    game, grid = LogisticGame(), basin_grid(size=11)
    naive = in_solution_b(run_field(grid, model_free_field(game, RuleSpec("naive")), 200, 1.0)[-1])
    meva_rule = LearnedRule("meva", "MeVa", model)
    meva = in_solution_b(run_field(grid, learned_field(game, meva_rule, 0.95), 200, 1.0)[-1])
    # Naive learning splits the grid along the diagonal; after 70 outer loops (64 pairs) MeVa
    # with gamma 0.95 sends most of it to B (0.89 of this grid with seed 0).
    assert float(naive.float().mean()) == pytest.approx(0.5, abs=0.1)
    assert float(meva.float().mean()) > float(naive.float().mean()) + 0.2


def test_meva_rewards_and_td_targets_by_hand(ray_instance, monkeypatch):
    # One stride (k = 2) of the on-policy rollout x^(0..2): the rewards are the game's values
    # r_t = f(x^(t+1)) (maximised, so on the exact IPD's scale they lie in [-3, 0]), and the
    # lambda-returns of Algorithm 1 (App. A normalisation), with U the target model, are
    #   Y^(1) = (1 - g) f(x^(2)) + g U(x^(2)),
    #   Y^(0) = (1 - g) f(x^(1)) + g ((1 - lam) U(x^(1)) + lam Y^(1)).
    from rllib_meta.algorithms.meta_value import learner as learner_module

    settings = {**TINY_IPD, "td_lambda": 0.6, "target_inertia": 0.5}
    algorithm = _build(MeVa, "ipd_exact", settings)
    try:
        algorithm.train()  # the target model now differs from the online model
        batch = algorithm._sample_stride()
        game = algorithm.env_runner.game
        states, gamma = torch.from_numpy(batch["states"]), torch.from_numpy(batch["gamma"])
        assert states.shape == (3, 8, 2, 5)
        values = game.values(states)  # (k + 1, B, 2)
        rewards = torch.from_numpy(batch["rewards"])
        torch.testing.assert_close(rewards, values[1:])
        assert rewards.max() < 0.0 and rewards.min() >= -3.0

        learner = algorithm.learner_group._learner
        captured, loss = [], learner_module.quantile_huber_loss

        def capture(predictions, targets):
            captured.append(targets)
            return loss(predictions, targets)

        monkeypatch.setattr(learner_module, "quantile_huber_loss", capture)
        learner.meta_value_loss(states, gamma, batch)
        (targets,) = captured  # (k, B, 2, M)
        with torch.no_grad():
            target_values = learner.rule_module.target_model(game.features(states), gamma)
        g, lam = gamma.unsqueeze(-1), 0.6
        last = (1 - g) * values[2].unsqueeze(-1) + g * target_values[2]
        first = (1 - g) * values[1].unsqueeze(-1) + g * ((1 - lam) * target_values[1] + lam * last)
        torch.testing.assert_close(targets, torch.stack([first, last]))
        online_values = learner.rule_module.model(game.features(states), gamma).detach()
        assert (target_values - online_values).abs().max() > 1e-4  # U is the target model
    finally:
        algorithm.stop()


def test_meva_learner_lowers_the_td_loss(ray_instance):
    algorithm = _build(MeVa, "ipd_exact", {**TINY_IPD, "exploration_flip_prob": 0.0})
    try:
        losses = [m["model_loss"] for m in _train(algorithm, 15)]
    finally:
        algorithm.stop()
    assert np.mean(losses[-5:]) < np.mean(losses[:3])


def test_the_target_model_is_a_polyak_average():
    module = _build_module(rule="meva")
    online, target = module.model, module.target_model
    with torch.no_grad():
        for param in target.parameters():
            param.fill_(1.0)
        for param in online.parameters():
            param.fill_(3.0)
    module.update_target(inertia=0.9)  # theta_bar + (1 - rho) (theta - theta_bar)
    assert all(torch.allclose(p, torch.full_like(p, 1.2)) for p in target.parameters())
    assert all(not p.requires_grad for p in target.parameters())
    module.update_target(inertia=0.0)  # rho = 0: the target is the current model
    assert all(torch.allclose(p, torch.full_like(p, 3.0)) for p in target.parameters())


def _build_module(rule: str):
    import gymnasium as gym

    from rllib_meta.algorithms.meta_value.rl_module import LearningRuleModule

    space = gym.spaces.Box(-np.inf, np.inf, (10,), np.float32)
    config = {"rule": rule, "hidden_size": 8, "num_quantiles": 4}
    return LearningRuleModule(observation_space=space, action_space=space, model_config=config)


def test_two_env_runners_split_the_policy_pairs(ray_instance):
    algorithm = _build(MeVa, "ipd_exact", {**TINY_IPD, "num_env_runners": 2, "policy_pairs": 5})
    try:
        batch = algorithm._sample_stride()
        assert batch["states"].shape == (3, 5, 2, 5)  # k + 1 states of 3 + 2 pairs
        assert batch["gamma"].shape == (5, 2) and batch["rewards"].shape == (2, 5, 2)
        metrics = _metrics(algorithm.train())
        assert np.isfinite(metrics["model_loss"])
    finally:
        algorithm.stop()


@pytest.mark.parametrize("algorithm_class", [NaiveLearning, LOLA])
def test_model_free_rules_follow_their_field_from_the_initial_policies(
    ray_instance, algorithm_class
):
    settings = {"policy_pairs": 6, "policy_lr": 25.0, "horizon": 30, "stride": 10, "seed": 1}
    algorithm = _build(algorithm_class, "ipd_exact", settings)
    try:
        runner = algorithm.env_runner
        start = torch.from_numpy(runner.current_policies().copy())
        algorithm.train()
        rule = RuleSpec(algorithm.config.rule, algorithm.config.lookahead_rate)
        expected = run_field(start, model_free_field(runner.game, rule), 10, 25.0)[-1]
        assert torch.allclose(torch.from_numpy(runner.current_policies()), expected, atol=1e-5)
    finally:
        algorithm.stop()


def test_cola_consistency_loss_falls_during_training(ray_instance):
    settings = {"policy_pairs": 32, "horizon": 20, "stride": 10, "lookahead_rate": 3.0, "seed": 0}
    algorithm = _build(COLA, "logistic_game", {**settings, "hidden_size": 16, "lr": 3e-3})
    try:
        losses = [m["model_loss"] for m in _train(algorithm, 30)]
    finally:
        algorithm.stop()
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3])


def test_rllib_train_file_then_evaluate_draws_the_basins(
    ray_instance, tmp_path, capsys, monkeypatch
):
    config = {"policy_pairs": 8, "horizon": 4, "stride": 2, "hidden_size": 8, "num_quantiles": 4}
    code = train_file("meva_logistic.yaml", tmp_path, 2, config)
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"iter 2 \| env steps 32 \| returns -?[\d.]+ -?[\d.]+ \| model loss", out)
    (checkpoint,) = re.findall(r"^Checkpoint: (.+)$", out, flags=re.MULTILINE)

    for name, value in {
        "BASIN_GRID_SIZE": 5,
        "BASIN_STEPS": 3,
        "LOOKAHEAD_RATES": (1.0,),
        "MEVA_GAMMAS": (0.9,),
    }.items():
        monkeypatch.setattr(learning_dynamics, name, value)
    output = tmp_path / "plots"
    code = main(["evaluate", checkpoint, "--output-dir", str(output)])
    out = capsys.readouterr().out
    assert code == 0, out
    fractions = json.loads((output / "learning_dynamics.json").read_text())["basin_fraction_B"]
    assert set(fractions) == {
        "naive",
        "LOLA alpha=1",
        "HOLA2 alpha=1",
        "HOLA3 alpha=1",
        "MeVa gamma=0.9",
    }
    assert all(0.0 <= value <= 1.0 for value in fractions.values())
    assert (output / "logistic_basins.png").stat().st_size > 0
    assert (output / "logistic_trajectories.png").stat().st_size > 0

    # Without --output-dir: in the trial directory, nothing in the working directory.
    trial = Path(checkpoint).resolve().parent
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert main(["evaluate", str(trial)]) == 0
    assert f"wrote {trial / 'evaluation' / 'learning_dynamics.json'}" in capsys.readouterr().out
    assert (trial / "evaluation" / "logistic_basins.png").stat().st_size > 0
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"rule": "lolaa"}, r"rule must be one of \['naive', 'lola', 'hola', 'cola', 'meva'\]"),
        ({"meta_gamma": 1.5}, r"meta_gamma must be a number in \[0.0, 1.0\], got 1.5"),
        ({"policy_pairs": 0}, r"policy_pairs must be an integer >= 1, got 0"),
        ({"num_learners": 2}, r"num_learners=2"),
        ({"td_lambda": -0.1}, r"td_lambda must be a number in \[0.0, 1.0\], got -0.1"),
    ],
)
def test_bad_settings_are_refused_by_name(settings, message):
    config = MeVa.get_default_config().environment("logistic_game").update_from_dict(settings)
    with pytest.raises(ValueError, match=message):
        config.validate()


def test_a_shared_model_needs_a_symmetric_game():
    config = MeVa.get_default_config().environment("zero_sum_bilinear")
    with pytest.raises(ValueError, match=r"needs a symmetric game.*'zero_sum_bilinear'"):
        config.validate()
    LOLA.get_default_config().environment("zero_sum_bilinear").validate()  # model-free: fine


def test_an_unsupported_env_is_refused():
    config = MeVa.get_default_config().environment("ipd")
    with pytest.raises(ValueError, match=r"env must be one of \['logistic_game', 'ipd_exact'"):
        config.validate()
