"""Reproducibility of every algorithm: one seed gives one run, and a checkpoint restored
into a fresh algorithm continues that run bit-identically (weights, optimiser and RNG states,
the EnvRunners' trajectories)."""

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rllib_meta.algorithms.follower_learning_demo.algorithm import FollowerLearningDemo
from rllib_meta.algorithms.meta_mapg.algorithm import MetaMAPG
from rllib_meta.algorithms.meta_value.algorithm import MeVa
from rllib_meta.algorithms.mra.algorithm import MRA
from rllib_meta.algorithms.stackelberg.algorithm import StackelbergMeta
from tests import tiny_configs

pytestmark = pytest.mark.slow

State = dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Case:
    """How to build an algorithm's tiny seeded config, read its metrics and its state."""

    config: Callable[[], Any]  # -> AlgorithmConfig
    metrics_key: str  # the algorithm's own section of a training result
    state: Callable[[Any], State]  # what must continue identically
    iterations: int  # per comparison (enough to cross the algorithm's phases)


def _meta_mapg_config():
    return (
        MetaMAPG.get_default_config()
        .environment("ipd", env_config=tiny_configs.META_MAPG_ENV_CONFIG)
        .training(**tiny_configs.META_MAPG)
        .debugging(seed=3)
    )


def _meta_mapg_state(algorithm) -> State:
    module = algorithm.learner_group._learner.module["default_policy"]
    state = {k: v.detach().numpy().copy() for k, v in module.agent.state_dict().items()}
    return {**state, "best_validation_auc": np.asarray(algorithm._best_validation_auc)}


def _meva_config():
    config = MeVa.get_default_config().environment("ipd_exact")
    return config.update_from_dict(tiny_configs.MEVA_IPD)


def _meva_state(algorithm) -> State:
    runner = algorithm.env_runner
    state = {k: np.asarray(v).copy() for k, v in runner.module.get_state().items()}
    return {**state, "policy_pairs": runner.current_policies().copy()}


def _stackelberg_config(leader_learner: str):
    def config():
        settings = {
            **tiny_configs.STACKELBERG,
            "leader_learner": leader_learner,
            "dqn_learning_starts": 0,
            "dqn_batch_size": 8,
        }
        env_config = tiny_configs.STACKELBERG_ENV_CONFIG
        defaults = StackelbergMeta.get_default_config()
        return defaults.environment("matrix_game", env_config=env_config).update_from_dict(settings)

    return config


def _stackelberg_state(algorithm) -> State:
    tables = algorithm.learner_group._learner.tables
    return {name: layer.weight.detach().numpy().copy() for name, layer in tables.named_children()}


def _follower_learning_demo_config():
    config = FollowerLearningDemo.get_default_config()
    return config.update_from_dict(tiny_configs.FOLLOWER_DEMO)


def _follower_learning_demo_state(algorithm) -> State:
    leader = algorithm.learner_group._learner.leader
    leader = {k: v.detach().numpy().copy() for k, v in leader.state_dict().items()}
    return {**leader, "follower_q": algorithm.env_runner.q.copy()}


def _mra_config():
    config = MRA.get_default_config().environment(
        "resource_occupation", env_config=tiny_configs.MRA_ENV_CONFIG
    )
    return config.update_from_dict(tiny_configs.MRA)


def _mra_state(algorithm) -> State:
    """The weights of every network (and targets), the replay buffers and the worlds."""
    learner = algorithm.learner_group._learner
    module = learner.rl_module
    state = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
    for index, buffer in enumerate(learner.buffers):
        state[f"replay_{index}_size"] = np.asarray(len(buffer))
        state[f"replay_{index}_pos"] = buffer.fields["pos"][: len(buffer)].copy()
    for index, world in enumerate(algorithm.env_runner.worlds):
        state[f"world_{index}_pos"] = world.state.pos.copy()
    return state


CASES = {
    "meta_mapg": Case(_meta_mapg_config, "meta_learner", _meta_mapg_state, 2),
    "meva": Case(_meva_config, "policy_pairs", _meva_state, 2),
    # 2 + 2 iterations of 5 steps: episodes of 20 steps end after the checkpoint.
    "mra": Case(_mra_config, "mra", _mra_state, 2),
    # 3 + 3 iterations run through all three phases (2 iterations each), across the checkpoint.
    "stackelberg_ppo": Case(_stackelberg_config("ppo"), "stackelberg", _stackelberg_state, 3),
    "stackelberg_dqn": Case(_stackelberg_config("dqn"), "stackelberg", _stackelberg_state, 3),
    "follower_learning_demo": Case(
        _follower_learning_demo_config,
        "follower_learning_demo",
        _follower_learning_demo_state,
        3,
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(request) -> Case:
    return CASES[request.param]


def _flat(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Nested metric groups (MRA reports one per MG) as ``group/key`` floats."""
    flat = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = float(value)
    return flat


def _train(algorithm, case: Case) -> list[dict[str, float]]:
    return [_flat(algorithm.train()[case.metrics_key]) for _ in range(case.iterations)]


def _assert_same(state: State, expected: State) -> None:
    assert state.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(state[name], value, err_msg=name)


def test_seeded_runs_repeat_and_checkpoints_continue_bit_identically(ray_instance, tmp_path, case):
    first, second = case.config().build_algo(), case.config().build_algo()
    try:
        assert _train(first, case) == _train(second, case)
        _assert_same(case.state(second), case.state(first))
        checkpoint = first.save_to_path(tmp_path / "checkpoint")
        saved = case.state(first)
        expected = _train(first, case)
        expected_state = case.state(first)
    finally:
        first.stop()
        second.stop()
    assert any(not np.array_equal(saved[k], expected_state[k]) for k in saved)  # it learns
    restored = type(first).from_checkpoint(checkpoint)
    try:
        _assert_same(case.state(restored), saved)
        assert _train(restored, case) == expected
        _assert_same(case.state(restored), expected_state)
    finally:
        restored.stop()
