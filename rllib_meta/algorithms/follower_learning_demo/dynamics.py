"""The two learners of paper 003, Appendix B, as plain functions (no RLlib): the follower's
tabular epsilon-greedy Q-learning on the single-shot game and the leader's REINFORCE loss.

Action 0 is C, action 1 is D. ``payoffs[a_leader, a_follower, player]`` as in
:mod:`envs.matrix.games`; the scaled Battle of the Sexes has (C, C) = (2, 1), (D, D) = (1, 2),
off-diagonal (0, 0).

Analysis (scaled payoffs). Against a leader that plays C with probability ``p`` the follower's
expected rewards are ``Q*(C) = p`` and ``Q*(D) = 2 (1 - p)``: its best response is C iff
``p > 2/3`` (equivalently, D for any leader that plays D with probability >= 1/3, the paper's
remark). The leader's value against a best-responding follower is ``1 - p`` for ``p < 2/3`` and
``2 p`` above: the Stackelberg outcome is the pure (C, C) (leader 2, follower 1); the other pure
Nash equilibrium (D, D) gives the leader 1 (follower 2). Note that ``p -> 1 - p`` is *decreasing*
below 2/3, so a leader that only follows the gradient of its value against the follower's
current response moves away from the Stackelberg point whenever ``p < 2/3``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

C, D = 0, 1
NUM_ACTIONS = 2


@dataclass
class Plays:
    """Single-shot plays: both players' actions and rewards, arrays of length ``n``."""

    leader_actions: np.ndarray
    follower_actions: np.ndarray
    leader_rewards: np.ndarray
    follower_rewards: np.ndarray

    @property
    def size(self) -> int:
        return len(self.leader_actions)


def follower_best_response(p_cooperate: float, payoffs: np.ndarray) -> int:
    """The follower's best response (C or D) to a leader playing C with ``p_cooperate``;
    ties (``p = 2/3`` on the scaled game) go to D."""
    mixed = np.array([p_cooperate, 1.0 - p_cooperate])
    values = mixed @ payoffs[:, :, 1]  # follower's expected reward per own action
    return C if values[C] > values[D] else D


def greedy_action(q: np.ndarray, tie_break: int) -> int:
    """``argmax_a Q(a)``; ``tie_break`` (C or D) when both are equal."""
    if q[C] == q[D]:
        return int(tie_break)
    return C if q[C] > q[D] else D


def greedy_cooperation(q: np.ndarray) -> float:
    """The follower's greedy action as its probability of C: 1, 0, or 0.5 on a tie."""
    if q[C] == q[D]:
        return 0.5
    return 1.0 if q[C] > q[D] else 0.0


def sample_leader_actions(p_cooperate: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` single-shot leader actions from its mixed strategy, at once."""
    return (rng.random(size) >= p_cooperate).astype(np.int64)  # C w.p. p, else D


def q_learning_episodes(
    q: np.ndarray,
    leader_actions: np.ndarray,
    payoffs: np.ndarray,
    alpha: float,
    epsilon: float,
    rng: np.random.Generator,
) -> Plays:
    """Epsilon-greedy tabular Q-learning of the follower against ``leader_actions``, one
    single-shot episode each, updating ``q`` (shape ``(2,)``) in place.

    Per episode: with probability ``epsilon`` a uniformly random action, else the greedy one
    (ties broken uniformly at random); then ``Q(a) <- Q(a) + alpha (r - Q(a))`` (no next state:
    the game is single-shot). The follower does not observe the leader's action. The random
    draws for all episodes are taken at once; only the update loop is sequential.
    """
    size = len(leader_actions)
    explore = rng.random(size) < epsilon
    random_actions = rng.integers(NUM_ACTIONS, size=size)
    tie_breaks = rng.integers(NUM_ACTIONS, size=size)
    table = payoffs[:, :, 1]
    follower_actions = np.empty(size, dtype=np.int64)
    for t in range(size):
        action = random_actions[t] if explore[t] else greedy_action(q, tie_breaks[t])
        reward = table[leader_actions[t], action]
        q[action] += alpha * (reward - q[action])
        follower_actions[t] = action
    return plays_of(leader_actions, follower_actions, payoffs)


def greedy_plays(
    q: np.ndarray, leader_actions: np.ndarray, payoffs: np.ndarray, rng: np.random.Generator
) -> Plays:
    """The frozen follower's greedy action (ties at random) against each leader action."""
    tie_breaks = rng.integers(NUM_ACTIONS, size=len(leader_actions))
    follower_actions = np.array([greedy_action(q, b) for b in tie_breaks], dtype=np.int64)
    return plays_of(leader_actions, follower_actions, payoffs)


def plays_of(leader_actions: np.ndarray, follower_actions: np.ndarray, payoffs) -> Plays:
    rewards = payoffs[leader_actions, follower_actions]
    return Plays(leader_actions, follower_actions, rewards[:, 0].copy(), rewards[:, 1].copy())


def reinforce_loss(logits: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor):
    """REINFORCE with the batch-mean baseline on single-shot plays:
    ``-mean_i log pi(a_i) (r_i - mean_j r_j)``. ``logits`` ``(n, 2)`` or ``(2,)``.

    Its gradient with respect to the logits is ``-mean_i (r_i - r_bar) e_{a_i}`` (the
    ``- pi`` term of ``d log pi(a) / d logits = e_a - pi`` cancels against the zero-mean
    advantages).
    """
    log_probs = torch.log_softmax(logits, dim=-1).expand(len(actions), NUM_ACTIONS)
    chosen = log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    advantages = rewards - rewards.mean()
    return -(chosen * advantages).mean()


def leader_value(p_cooperate: float, follower_cooperation: float, payoffs: np.ndarray) -> float:
    """The leader's expected reward when it plays C with ``p_cooperate`` and the follower C
    with ``follower_cooperation`` (independently)."""
    leader = np.array([p_cooperate, 1.0 - p_cooperate])
    follower = np.array([follower_cooperation, 1.0 - follower_cooperation])
    return float(leader @ payoffs[:, :, 0] @ follower)


def outcome(p_cooperate: float, follower_cooperation: float, margin: float = 0.05) -> str:
    """Which equilibrium the pair sits at: ``"stackelberg (C,C)"``, ``"nash (D,D)"`` (the
    follower-preferred pure Nash equilibrium) or ``"neither"``."""
    if p_cooperate >= 1.0 - margin and follower_cooperation == 1.0:
        return "stackelberg (C,C)"
    if p_cooperate <= margin and follower_cooperation == 0.0:
        return "nash (D,D)"
    return "neither"
