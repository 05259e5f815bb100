"""Non-finite updates (issue 18, item 8): a NaN in the data a Learner learns from makes its
loss and meta-gradient NaN; ``FunctionalLearner`` skips that optimizer step (weights and
optimizer state untouched), warns, counts it in ``learner_faults``, and the next finite update
proceeds. One case per Learner family, the NaN injected into one sampling call's results."""

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from ray.rllib.core import COMPONENT_OPTIMIZER, COMPONENT_RL_MODULE

from rllib_meta.algorithms.base.algorithm import LEARNER_FAULTS, NON_FINITE_SKIPPED
from rllib_meta.algorithms.base.learner import FunctionalLearner
from rllib_meta.algorithms.follower_learning_demo.algorithm import FollowerLearningDemo
from rllib_meta.algorithms.meta_mapg.algorithm import MetaMAPG
from rllib_meta.algorithms.meta_value.algorithm import MeVa
from rllib_meta.algorithms.stackelberg.algorithm import StackelbergMeta
from tests import tiny_configs


def _nan_in_next_sample(key: str) -> Callable[[Any], None]:
    """Arm a NaN into array ``key`` of the first share of the next sampling call's results."""

    def arm(algorithm) -> None:
        sample_on_runners = algorithm.sample_on_runners

        def poisoned(*args, **kwargs):
            results = sample_on_runners(*args, **kwargs)
            first = results[0]
            first[key] = np.full(first[key].shape, np.nan, dtype=first[key].dtype)
            algorithm.sample_on_runners = sample_on_runners  # one call only
            return results

        algorithm.sample_on_runners = poisoned

    return arm


def _nan_in_next_meta_gradient(algorithm) -> None:
    """Meta-MAPG: a NaN in the next meta-gradient (NaN rewards would stop earlier, in the
    linear baseline's least-squares fit, which refuses them)."""
    learner = algorithm.learner_group._learner
    chain_gradients = learner._chain_gradients

    def poisoned(records):
        actor, critic, metrics = chain_gradients(records)
        learner._chain_gradients = chain_gradients  # one call only
        return actor * float("nan"), critic, metrics

    learner._chain_gradients = poisoned


@dataclasses.dataclass(frozen=True)
class Family:
    config: Callable[[], Any]
    arm: Callable[[Any], None]  # makes the next update non-finite


FAMILIES = {
    "meta_mapg": Family(
        lambda: (
            MetaMAPG.get_default_config()
            .environment("ipd", env_config=tiny_configs.META_MAPG_ENV_CONFIG)
            .training(**{**tiny_configs.META_MAPG, "validation_interval": 0})
            .debugging(seed=3)
        ),
        _nan_in_next_meta_gradient,
    ),
    "meva": Family(
        lambda: (
            MeVa.get_default_config()
            .environment("ipd_exact")
            .update_from_dict({**tiny_configs.MEVA_IPD, "strides_per_iteration": 1})
        ),
        _nan_in_next_sample("rewards"),
    ),
    "stackelberg": Family(
        lambda: (
            StackelbergMeta.get_default_config()
            .environment("matrix_game", env_config=tiny_configs.STACKELBERG_ENV_CONFIG)
            .update_from_dict(tiny_configs.STACKELBERG)
        ),
        _nan_in_next_sample("rewards"),
    ),
    "follower_learning_demo": Family(
        lambda: FollowerLearningDemo.get_default_config().update_from_dict(
            tiny_configs.FOLLOWER_DEMO
        ),
        _nan_in_next_sample("leader_rewards"),
    ),
}


def _flat(tree: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """Every array of a nested state dict, by path."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _flat(sub, f"{prefix}/{key}").items()}
    if isinstance(tree, torch.Tensor):
        tree = tree.detach().numpy()
    return {prefix: np.array(tree, copy=True)}


def _learner_state(algorithm) -> dict[str, np.ndarray]:
    learner = algorithm.learner_group._learner
    return _flat(learner.get_state(components=[COMPONENT_RL_MODULE, COMPONENT_OPTIMIZER]))


def _same(state: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> bool:
    def equal(a: np.ndarray, b: np.ndarray) -> bool:
        floats = a.dtype.kind in "fc" and b.dtype.kind in "fc"
        return np.array_equal(a, b, equal_nan=floats)

    return state.keys() == other.keys() and all(equal(state[k], other[k]) for k in state)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_nan_update_is_skipped_counted_and_the_next_one_proceeds(ray_instance, name, caplog):
    family = FAMILIES[name]
    algorithm = family.config().build_algo()
    try:
        first = algorithm.train()
        assert first[LEARNER_FAULTS][NON_FINITE_SKIPPED] == 0
        before = _learner_state(algorithm)
        family.arm(algorithm)
        with caplog.at_level(logging.WARNING):
            poisoned = algorithm.train()
        assert _same(_learner_state(algorithm), before)  # weights and optimizer states
        skipped = poisoned[LEARNER_FAULTS][NON_FINITE_SKIPPED]
        assert skipped >= 1
        assert "this update is skipped" in caplog.text
        after = algorithm.train()
        assert after[LEARNER_FAULTS][NON_FINITE_SKIPPED] == skipped  # finite again
        state = _learner_state(algorithm)
        assert not _same(state, before)
        assert all(np.isfinite(v).all() for v in state.values() if v.dtype.kind == "f")
    finally:
        algorithm.stop()


class _Learner(FunctionalLearner):
    """The base step alone, on a hand-built parameter and optimizer."""

    def __init__(self):  # no RLlib build: only what apply_parameter_gradients reads
        self.param = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
        self.optimizer = torch.optim.Adam([self.param], lr=0.1)
        self._optimizer_parameters = {self.optimizer: [self.param]}
        self.applied = []

    def get_param_ref(self, param):
        return id(param)

    def postprocess_gradients(self, gradients):
        return gradients

    def apply_gradients(self, gradients):
        self.applied.append(gradients)
        self.param.grad = next(iter(gradients.values()))
        self.optimizer.step()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_the_base_step_refuses_a_non_finite_gradient_or_loss(bad):
    learner = _Learner()
    returned = learner.apply_parameter_gradients({learner.param: torch.tensor([0.5, bad])})
    assert learner.applied == [] and learner.optimizer.state == {}
    assert torch.equal(learner.param.detach(), torch.tensor([1.0, 2.0]))
    assert learner.num_non_finite_updates_skipped == 1 and learner.last_update_skipped
    assert torch.isnan(returned[learner.param]).any() or torch.isinf(returned[learner.param]).any()
    assert learner.step_on_loss(learner.param.sum() * bad, [learner.param]) == {}
    assert learner.num_non_finite_updates_skipped == 2 and learner.applied == []
    learner.apply_parameter_gradients({learner.param: torch.tensor([0.5, 0.5])})
    assert len(learner.applied) == 1 and not learner.last_update_skipped
    assert learner.num_non_finite_updates_skipped == 2
    np.testing.assert_allclose(learner.param.detach(), [0.9, 1.9], rtol=1e-6)  # Adam's 1st step
