"""MeVa's fused policy-step engine against the definitions it replaces (issue 16, item 2):
``grad-bar V_hat`` from one held-opponent backward pass against one backward pass per player,
the stacked on-policy + exploratory rollout against two separate rollouts, and a whole seeded
run against the same run on the reference engine."""

import numpy as np
import pytest
import torch

from envs.differentiable.games import ExactIPD, LogisticGame
from rllib_meta.algorithms.meta_value import env_runner as runner_module
from rllib_meta.algorithms.meta_value import learner as learner_module
from rllib_meta.algorithms.meta_value.algorithm import MeVa
from rllib_meta.algorithms.meta_value.networks import MetaValueNetwork
from rllib_meta.core.learning_rules import simultaneous_gradient
from rllib_meta.core.quantile import pairwise_quantile_huber_loss
from rllib_meta.core.rule_fields import meta_value_field
from tests import tiny_configs


def reference_field(game, model, x, gamma, signs=None, include_game=True):
    """``grad-bar`` of ``(1 - gamma) f + gamma U_hat`` (or ``U_hat`` alone where
    ``include_game`` is false), one backward pass per player of the unheld objective."""

    def objective(y):
        meta_value = model(game.features(y), gamma, signs).mean(dim=-1)
        mixed = (1.0 - gamma) * game.values(y) + gamma * meta_value
        if include_game is True:
            return mixed
        if include_game is False:
            return meta_value
        return torch.where(include_game.unsqueeze(-1), mixed, meta_value)

    return simultaneous_gradient(objective, x, create_graph=True).detach()


def reference_rollouts(runner, pairs, gamma):
    """The two rollouts one after the other (the engine before the stacking)."""
    model, stride = runner.module.model, runner.config.stride

    def field(condition, signs, include_game):
        return lambda y: reference_field(runner.game, model, y, condition, signs, include_game)

    exploring = pairs.signs is not None
    on_policy = runner.rollout(pairs.x, stride, field(gamma, None, True))
    exploratory = runner.rollout(
        pairs.x, stride, field(pairs.condition, pairs.signs, not exploring)
    )
    return on_policy, exploratory


@pytest.mark.parametrize("game", [LogisticGame(), ExactIPD()], ids=str)
def test_held_opponent_field_equals_one_backward_pass_per_player(game):
    generator = torch.Generator().manual_seed(0)
    count = 6
    x = game.initial_policies(count, generator).double()
    model = MetaValueNetwork(x.shape[-1], 16, 5).double()
    gamma = torch.rand(count, 2, generator=generator, dtype=torch.float64)
    signs = torch.where(torch.rand(count, 16, generator=generator) < 0.3, -1.0, 1.0).double()
    include = torch.tensor([True, False, True, False, False, True])
    for args in [(None, True), (signs, False), (signs, include)]:
        fast = meta_value_field(game, model, x, gamma, *args)
        reference = reference_field(game, model, x, gamma, *args)
        assert not fast.requires_grad
        torch.testing.assert_close(fast, reference, rtol=1e-12, atol=1e-14)
    # Both players' gradients are there: a dropped opponent term would zero or mix them.
    assert fast[:, 0].abs().min() > 0 and fast[:, 1].abs().min() > 0


def _build(settings):
    config = MeVa.get_default_config().environment("ipd_exact")
    return config.update_from_dict(dict(settings)).build_algo()


def test_stacked_rollouts_equal_two_separate_rollouts(ray_instance):
    algorithm = _build(tiny_configs.MEVA_IPD)
    try:
        runner = algorithm.env_runner
        algorithm.train()  # the model moves off its initialisation
        pairs = runner.pairs
        assert pairs.signs is not None and (pairs.signs < 0).any()  # exploration is on
        gamma = runner.draw_gammas(runner.num_pairs)
        stacked = runner.meva_rollouts(pairs, gamma)
        separate = reference_rollouts(runner, pairs, gamma)
        for fast, reference in zip(stacked, separate, strict=True):
            # float32 with policy_lr 25: rounding differences grow to about 1e-5 in 2 steps.
            torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)
        assert (stacked[0][-1] - stacked[1][-1]).abs().max() > 1e-3  # two different rollouts
    finally:
        algorithm.stop()


def _run(iterations):
    algorithm = _build({**tiny_configs.MEVA_IPD, "num_quantiles": 8})
    try:
        losses = [float(algorithm.train()["policy_pairs"]["model_loss"]) for _ in range(iterations)]
        return np.array(losses), algorithm.env_runner.current_policies()
    finally:
        algorithm.stop()


def test_a_seeded_run_follows_the_reference_engine(ray_instance, monkeypatch):
    losses, policies = _run(3)
    monkeypatch.setattr(
        runner_module.PolicyPairEnvRunner,
        "meva_rollouts",
        lambda self, pairs, gamma: reference_rollouts(self, pairs, gamma),
    )
    monkeypatch.setattr(learner_module, "quantile_huber_loss", pairwise_quantile_huber_loss)
    reference_losses, reference_policies = _run(3)
    np.testing.assert_allclose(losses, reference_losses, rtol=1e-4)
    np.testing.assert_allclose(policies, reference_policies, rtol=1e-4, atol=1e-5)
