"""``grad_clip`` is honoured by every rllib-meta Learner (RLlib clips only inside
``Learner.update()``, which these Learners bypass): one update on the same data with and
without a small ``grad_clip`` must apply gradients whose global norm, per optimizer, is the
clip asked for, and must move the parameters differently."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID

from rllib_meta.algorithms.follower_learning_demo.algorithm import FollowerLearningDemo
from rllib_meta.algorithms.meta_mapg.algorithm import MetaMAPG
from rllib_meta.algorithms.meta_value.algorithm import COLA, MeVa
from rllib_meta.algorithms.stackelberg.algorithm import StackelbergMeta
from rllib_meta.algorithms.stackelberg.env_runner import LEADER_TRAINING, PRETRAINING

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Case:
    algorithm: type
    settings: dict[str, Any]
    sample: Callable[[Any], Any]  # local EnvRunner -> the update's data
    update: Callable[[Any, Any], dict]  # (learner, data) -> metrics


CASES = {
    "MetaMAPG": Case(
        MetaMAPG,
        {
            "env": "ipd",
            "env_config": {"horizon": 6},
            "chain_length": 1,
            "trajectories_per_step": 4,
            "chains_per_iteration": 2,
        },
        lambda runner: runner.sample_chains(2),
        lambda learner, chains: learner.update_from_chains(chains),
    ),
    "MeVa": Case(
        MeVa,
        {"env": "logistic_game", "policy_pairs": 4, "horizon": 2, "stride": 2, "num_quantiles": 2}
        | {"hidden_size": 4},
        lambda runner: runner.sample(),
        lambda learner, stride: learner.update_from_trajectories(stride),
    ),
    "COLA": Case(
        COLA,
        {"env": "logistic_game", "policy_pairs": 4, "horizon": 2, "stride": 2, "hidden_size": 4},
        lambda runner: runner.sample(),
        lambda learner, stride: learner.update_from_trajectories(stride),
    ),
    "StackelbergMeta-follower": Case(
        StackelbergMeta,
        {"follower_episodes_per_iteration": 4},
        lambda runner: runner.sample(phase=PRETRAINING),
        lambda learner, batch: learner.update_follower(batch),
    ),
    "StackelbergMeta-leader": Case(
        StackelbergMeta,
        {"leader_episodes_per_iteration": 6, "ppo_epochs": 1},
        lambda runner: runner.sample(phase=LEADER_TRAINING),
        lambda learner, batch: learner.update_leader(batch),
    ),
    "FollowerLearningDemo": Case(
        FollowerLearningDemo,
        {"follower_episodes": 8},
        lambda runner: runner.sample(),
        lambda learner, plays: learner.update_from_plays(plays),
    ),
}


def _build(case: Case, grad_clip: float | None):
    config = case.algorithm.get_default_config()
    return config.update_from_dict(
        {**case.settings, "seed": 5, "grad_clip": grad_clip}
    ).build_algo()


def _parameters(learner) -> dict[str, np.ndarray]:
    module = learner.module[DEFAULT_MODULE_ID]
    return {name: p.detach().numpy().copy() for name, p in module.named_parameters()}


def _update(algorithm, case: Case, data, monkeypatch) -> dict[str, float]:
    """Run the case's update on ``data``; the global norm of the gradients applied, per
    optimizer that received any."""
    learner = algorithm.learner_group._learner
    applied = {}
    apply_gradients = learner.apply_gradients

    def capture(gradients):
        applied.update(gradients)
        apply_gradients(gradients)

    monkeypatch.setattr(learner, "apply_gradients", capture)
    case.update(learner, data)
    norms = {}
    for name, optimizer in learner.get_optimizers_for_module(DEFAULT_MODULE_ID):
        grads = learner.filter_param_dict_for_optimizer(applied, optimizer)
        nonzero = [g for g in grads.values() if g.abs().sum() > 0]
        if nonzero:
            norms[name] = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in nonzero])))
    return norms


@pytest.mark.parametrize("name", CASES)
def test_a_small_grad_clip_bounds_the_applied_gradient_and_changes_the_update(
    ray_instance, monkeypatch, name
):
    case = CASES[name]
    free = _build(case, grad_clip=None)
    try:
        data = case.sample(free.env_runner)
        before = _parameters(free.learner_group._learner)
        free_norms = _update(free, case, data, monkeypatch)
        free_after = _parameters(free.learner_group._learner)
    finally:
        free.stop()
    assert free_norms, "the update applied no gradient"
    # Small against Adam's eps too, so that the clipped step differs from the free one.
    clip = 1e-6 * min(free_norms.values())
    clipped = _build(case, grad_clip=clip)
    try:
        learner = clipped.learner_group._learner
        for key, value in _parameters(learner).items():  # the same seed: the same start
            np.testing.assert_array_equal(value, before[key])
        clipped_norms = _update(clipped, case, data, monkeypatch)
        clipped_after = _parameters(learner)
    finally:
        clipped.stop()
    assert clipped_norms.keys() == free_norms.keys()
    for optimizer, norm in clipped_norms.items():
        # RLlib scales by clip / (norm + 1e-6): exact up to that 1e-6.
        assert norm == pytest.approx(clip, rel=1e-6 / free_norms[optimizer] + 1e-5), optimizer
    assert any(
        not np.allclose(clipped_after[key], free_after[key], rtol=1e-6, atol=0.0) for key in before
    ), "clipping the gradient did not change the update"
