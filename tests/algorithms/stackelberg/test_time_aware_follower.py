"""StackelbergMeta with ``follower_observes_time``: a follower whose table has one block of
rows per time step (not the paper's follower; issue 17 item 5's time-aware alternative)."""

import numpy as np
import pytest
import torch

import envs
from envs.matrix.stackelberg import (
    memory_one_policies,
    stackelberg_optimum,
    time_aware_best_response,
)
from rllib_meta.algorithms.stackelberg.algorithm import StackelbergMeta
from rllib_meta.algorithms.stackelberg.atari_trade.config import StackelbergAtariTradeConfig
from rllib_meta.algorithms.stackelberg.rl_module import NUM_CONTEXTS
from rllib_meta.algorithms.stackelberg.verification import follower_regrets, leader_report
from tests import tiny_configs

pytestmark = pytest.mark.slow

HORIZON = tiny_configs.STACKELBERG_ENV_CONFIG["horizon"]
ROWS_PER_STEP = 5 * NUM_CONTEXTS


def _config(**settings):
    config = StackelbergMeta.get_default_config().environment(
        "matrix_game", env_config=tiny_configs.STACKELBERG_ENV_CONFIG
    )
    return config.update_from_dict(
        {**tiny_configs.STACKELBERG, "follower_observes_time": True, **settings}
    )


def _payoffs() -> torch.Tensor:
    game = envs.make("matrix_game", game="prisoners_dilemma").game
    return torch.tensor(np.array(game.payoffs))


def test_the_table_has_a_block_of_rows_per_step(ray_instance):
    algorithm = _config().build_algo()
    try:
        tables = algorithm.learner_group._learner.tables
        assert tables.follower.weight.shape == (2, HORIZON * ROWS_PER_STEP)
        with torch.no_grad():
            tables.follower.weight.zero_()
            # step 3, state 2, leader 7: D
            tables.follower.weight[1, 3 * ROWS_PER_STEP + 2 * NUM_CONTEXTS + 7] = 1.0
        greedy = tables.follower_greedy_table()
        assert greedy.shape == (32, HORIZON, 5)
        assert greedy[7, 3, 2] == 1 and greedy.sum() == 1
        states, contexts = torch.tensor([2, 2, 2]), torch.tensor([7, 7, 6])
        logits = tables.follower_logits(states, contexts, torch.tensor([3, 4, 3]))
        assert torch.equal(logits, torch.tensor([[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]))
        with pytest.raises(ValueError, match="needs the steps"):
            tables.follower_logits(states, contexts)
    finally:
        algorithm.stop()


def test_a_pg_step_moves_exactly_the_rows_of_the_visited_steps(ray_instance):
    algorithm = _config().build_algo()
    try:
        learner = algorithm.learner_group._learner
        before = learner.tables.follower.weight.detach().clone()
        states = np.array([[0, 1, 3, 4, 2, 1, 1, 1, 3, 4]])
        leader = memory_one_policies()[9]  # the context: leader policy 9
        batch = {
            "states": states,
            "answers": leader.numpy()[None],
            "actions": np.zeros((1, HORIZON, 2), dtype=np.int64),
            "rewards": np.ones((1, HORIZON, 2), dtype=np.float32),
        }
        learner.update_follower(batch)
        moved = (learner.tables.follower.weight.detach() != before).any(0)
        visited = {t * ROWS_PER_STEP + s * NUM_CONTEXTS + 9 for t, s in enumerate(states[0])}
        assert set(torch.nonzero(moved).flatten().tolist()) == visited
    finally:
        algorithm.stop()


def test_the_time_aware_best_responder_has_zero_regret_and_meets_its_optimum():
    payoffs = _payoffs()
    leaders = torch.nn.functional.one_hot(memory_one_policies(), 2).double()
    _, _, best = time_aware_best_response(payoffs, leaders, HORIZON)  # (32, H, 5)
    regrets = follower_regrets(payoffs, best, HORIZON)
    assert regrets["follower_regret_time_aware_max"] == 0.0
    # It beats every stationary response somewhere (it can defect on the last step only).
    assert regrets["follower_regret_mean"] < 0.0
    optimum = stackelberg_optimum(payoffs, HORIZON, follower="time_aware")
    report = leader_report(payoffs, optimum.leader_policy, best, HORIZON, optimum)
    # Paper 003's prisoner's dilemma against a time-aware follower: 29 / 29, not 31 / 28.
    assert report["leader_return"] == report["optimum_leader_return"] == 29.0
    assert report["follower_return"] == 29.0
    assert report["leader_return_vs_best_response"] == 29.0


def test_the_algorithm_checks_against_the_time_aware_optimum(ray_instance):
    algorithm = _config().build_algo()
    try:
        metrics = algorithm.train()["stackelberg"]
    finally:
        algorithm.stop()
    assert metrics["optimum_leader_return"] == 29.0
    assert np.isfinite(metrics["follower_regret_time_aware_mean"])


@pytest.mark.parametrize(
    "config, message",
    [
        (
            lambda: _config(
                follower_oracle="q_learning", pretraining_iterations=0, verification_iterations=0
            ),
            r"follower_observes_time=True: follower_oracle 'q_learning' has no contextual",
        ),
        (
            lambda: StackelbergAtariTradeConfig().training(follower_observes_time=True),
            r"follower_observes_time=True: the trade follower answers one offer per bullet",
        ),
    ],
)
def test_where_the_time_step_means_nothing_it_is_refused(config, message):
    with pytest.raises(ValueError, match=message):
        config().validate()
