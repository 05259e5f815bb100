"""``FollowerLearningEnvRunner``: the follower and the single-shot plays of paper 003,
Appendix B. One ``sample()`` is the inner loop of one leader iteration:

1. ``follower_reset``: zero the Q-table (re-initialisation between leader updates); otherwise
   keep it (continuous learning);
2. the follower learns for ``follower_episodes`` single-shot episodes against the current leader
   (leader actions drawn from its mixed strategy, all at once);
3. the leader's batch: those plays (``leader_batch="follower_learning"``) or
   ``leader_batch_size`` fresh plays against the follower's greedy policy
   (``"after_learning"``, the follower frozen).

The plays are drawn with numpy on the payoff table, not through RLlib's episode machinery
(one step per episode would make its per-step overhead the whole cost).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rllib_meta.algorithms.base.env_runner import SamplingEnvRunner
from rllib_meta.algorithms.follower_learning_demo.dynamics import (
    Plays,
    greedy_cooperation,
    greedy_plays,
    q_learning_episodes,
    sample_leader_actions,
)

Q_TABLE = "follower_q"


class FollowerLearningEnvRunner(SamplingEnvRunner):
    """Holds the follower's Q-table ``q`` (``Q(C), Q(D)``) and a numpy generator."""

    RANDOM_GENERATORS = ("rng",)

    def __init__(self, *, config, **kwargs):
        super().__init__(config=config, **kwargs)
        self.payoffs = np.asarray(self.env.game.payoffs)
        self.rng = np.random.default_rng(self.seed)
        self.q = np.zeros(2)

    def sample(self, **kwargs) -> dict[str, Any]:
        """One leader iteration's inner loop (see the module docstring)."""
        config = self.config
        p_cooperate = self.module.cooperation_probability()
        if config.follower_reset:
            self.q[:] = 0.0
        leader_actions = sample_leader_actions(p_cooperate, config.follower_episodes, self.rng)
        learning = q_learning_episodes(
            self.q,
            leader_actions,
            self.payoffs,
            config.follower_alpha,
            config.follower_epsilon,
            self.rng,
        )
        batch = learning
        if config.leader_batch == "after_learning":
            fresh = sample_leader_actions(p_cooperate, config.leader_batch_size, self.rng)
            batch = greedy_plays(self.q, fresh, self.payoffs, self.rng)
        steps = learning.size + (batch.size if batch is not learning else 0)
        self.num_env_steps_sampled_lifetime += steps
        return self._result(p_cooperate, learning, batch, steps)

    def _result(self, p_cooperate: float, learning: Plays, batch: Plays, steps: int) -> dict:
        return {
            "leader_actions": batch.leader_actions,
            "leader_rewards": batch.leader_rewards,
            "leader_p_cooperate": p_cooperate,
            "leader_mean_reward": float(batch.leader_rewards.mean()),
            "follower_mean_reward": float(batch.follower_rewards.mean()),
            "follower_learning_mean_reward": float(learning.follower_rewards.mean()),
            "follower_greedy_cooperate": greedy_cooperation(self.q),
            "follower_q_c": float(self.q[0]),
            "follower_q_d": float(self.q[1]),
            "env_steps": steps,
        }

    # -- checkpoints -----------------------------------------------------------------------

    def sampler_state(self) -> dict[str, Any]:
        return {Q_TABLE: self.q.copy()}

    def load_sampler_state(self, state: dict[str, Any]) -> None:
        self.q = np.array(state[Q_TABLE], dtype=np.float64)
