"""The follower reset-vs-continuous demo (paper 003, Appendix B): the two learners checked by
hand, the CLI and bad configuration (seeded runs and checkpoints:
tests/algorithms/test_reproducibility.py)."""

import re

import numpy as np
import pytest
import torch

from envs.matrix.games import battle_of_sexes
from rllib_meta.algorithms.follower_learning_demo.algorithm import FollowerLearningDemo
from rllib_meta.algorithms.follower_learning_demo.dynamics import (
    C,
    D,
    follower_best_response,
    greedy_plays,
    leader_value,
    outcome,
    q_learning_episodes,
    reinforce_loss,
)
from tests import tiny_configs
from tests.cli import train_file

pytestmark = pytest.mark.slow

PAYOFFS = battle_of_sexes(scaled=True).payoffs
TINY = tiny_configs.FOLLOWER_DEMO


class _Always:
    """A stand-in numpy generator: ``random`` returns ``value``, ``integers`` returns ``pick``."""

    def __init__(self, value: float, pick: int):
        self.value, self.pick = value, pick

    def random(self, size):
        return np.full(size, self.value)

    def integers(self, high, size):
        return np.full(size, self.pick)


def test_the_payoffs_and_the_best_response_threshold():
    assert PAYOFFS[C, C].tolist() == [2.0, 1.0] and PAYOFFS[D, D].tolist() == [1.0, 2.0]
    assert PAYOFFS[C, D].tolist() == [0.0, 0.0] and PAYOFFS[D, C].tolist() == [0.0, 0.0]
    assert follower_best_response(0.7, PAYOFFS) == C
    assert follower_best_response(0.6, PAYOFFS) == D
    assert follower_best_response(0.5, PAYOFFS) == D
    assert leader_value(1.0, 1.0, PAYOFFS) == 2.0  # Stackelberg (C, C)
    assert leader_value(0.0, 0.0, PAYOFFS) == 1.0  # the follower's preferred Nash (D, D)
    assert outcome(0.99, 1.0).startswith("stackelberg") and outcome(0.01, 0.0).startswith("nash")
    assert outcome(0.5, 0.0) == "neither"


def test_q_learning_updates_by_hand():
    q = np.zeros(2)
    leader = np.array([C, D, D])
    # No exploration (random() = 1 > epsilon); ties go to D (integers() = 1).
    plays = q_learning_episodes(q, leader, PAYOFFS, alpha=0.5, epsilon=0.1, rng=_Always(1.0, D))
    # Episode 1: tie -> D against C: r = 0, Q(D) = 0. Episode 2: tie -> D against D: r = 2,
    # Q(D) = 1. Episode 3: greedy D against D: Q(D) = 1 + 0.5 (2 - 1) = 1.5.
    assert plays.follower_actions.tolist() == [D, D, D]
    assert plays.follower_rewards.tolist() == [0.0, 2.0, 2.0]
    assert plays.leader_rewards.tolist() == [0.0, 1.0, 1.0]
    assert q.tolist() == [0.0, 1.5]
    # Always exploring, the random action C (integers() = 0): Q(C) <- Q(C) + 0.5 (1 - Q(C)).
    plays = q_learning_episodes(q, np.array([C, C]), PAYOFFS, 0.5, 1.0, _Always(0.0, C))
    assert plays.follower_actions.tolist() == [C, C]
    assert q.tolist() == [0.75, 1.5]
    greedy = greedy_plays(q, np.array([C, D]), PAYOFFS, _Always(0.0, C))
    assert greedy.follower_actions.tolist() == [D, D] and q.tolist() == [0.75, 1.5]


def test_reinforce_gradient_by_hand():
    logits = torch.tensor([0.3, -0.2], requires_grad=True)
    actions, rewards = torch.tensor([C, D, C]), torch.tensor([2.0, 1.0, 0.0])
    loss = reinforce_loss(logits, actions, rewards)
    (grad,) = torch.autograd.grad(loss, logits)
    # advantages (1, 0, -1); d/dlogits of -mean A_i log pi(a_i) = -mean A_i (e_{a_i} - pi)
    pi = torch.softmax(logits.detach(), -1)
    expected = -(1.0 * (torch.tensor([1.0, 0.0]) - pi) - 1.0 * (torch.tensor([1.0, 0.0]) - pi)) / 3
    assert torch.allclose(grad, expected)
    assert torch.allclose(grad, torch.zeros(2))  # C paid 2 and 0: no net preference
    loss = reinforce_loss(logits, torch.tensor([C, D]), torch.tensor([2.0, 0.0]))
    (grad,) = torch.autograd.grad(loss, logits)
    assert torch.allclose(grad, torch.tensor([-0.5, 0.5]))  # -mean A_i e_{a_i}, A = (1, -1)


def _build(settings):
    config = FollowerLearningDemo.get_default_config().update_from_dict(dict(settings))
    return config.build_algo()


def _train(algorithm, iterations):
    return [
        {k: float(v) for k, v in algorithm.train()["follower_learning_demo"].items()}
        for _ in range(iterations)
    ]


@pytest.mark.parametrize("leader_batch", ["follower_learning", "after_learning"])
def test_an_iteration_reports_its_plays_and_steps(ray_instance, leader_batch):
    algorithm = _build({**TINY, "leader_batch": leader_batch, "follower_reset": False})
    try:
        result = algorithm.train()
        metrics = result["follower_learning_demo"]
        assert 0.0 < metrics["leader_p_cooperate"] < 1.0
        assert metrics["follower_greedy_cooperate"] in (0.0, 0.5, 1.0)
        steps = 5 + (7 if leader_batch == "after_learning" else 0)
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] == steps
        assert set(result["env_runners"]["agent_episode_returns_mean"]) == {"leader", "follower"}
        q = algorithm.env_runner.q
        assert (metrics["follower_q_c"], metrics["follower_q_d"]) == tuple(q)
    finally:
        algorithm.stop()


def test_reset_zeroes_the_q_table_before_every_leader_update(ray_instance):
    algorithm = _build({**TINY, "follower_reset": True, "follower_episodes": 1})
    try:
        for _ in range(5):
            algorithm.train()
            # one episode from Q = 0: at most one entry moved, by alpha * r
            assert np.count_nonzero(algorithm.env_runner.q) <= 1
            # ... to alpha * r with r in {0, 1, 2}
            assert algorithm.env_runner.q.max() in (0.0, pytest.approx(0.1), pytest.approx(0.2))
    finally:
        algorithm.stop()


def test_rllib_train_file_runs_the_grid(ray_instance, tmp_path, capsys):
    code = train_file("stackelberg_bos_reset_demo.yaml", tmp_path, 2, {"seed": 0})
    out = capsys.readouterr().out
    assert code == 0, out
    lines = re.findall(r"iter 2 \| env steps 20 \| follower [\d.]+ leader [\d.]+", out)
    assert len(lines) == 2  # follower_reset true and false
    assert len(re.findall(r"^Checkpoint: ", out, flags=re.MULTILINE)) == 2


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"follower_reset": 1}, r"follower_reset must be one of \[True, False\], got 1"),
        ({"follower_reset": "yes"}, r"follower_reset must be one of \[True, False\], got 'yes'"),
        ({"follower_epsilon": 1.5}, r"follower_epsilon must be a number in \[0.0, 1.0\], got 1.5"),
        ({"follower_epsilon": -0.1}, r"follower_epsilon must be a number in \[0.0, 1.0\]"),
        (
            {"leader_batch": "after"},
            r"leader_batch must be one of \['follower_learning', 'after_learning'\], got 'after'",
        ),
        ({"follower_episodes": 0}, r"follower_episodes must be an integer >= 1, got 0"),
        ({"env": "ipd"}, r"env must be one of \['battle_of_sexes'\], got 'ipd'"),
    ],
)
def test_bad_settings_are_refused_by_name(settings, message):
    config = FollowerLearningDemo.get_default_config().update_from_dict(settings)
    with pytest.raises(ValueError, match=message):
        config.validate()
