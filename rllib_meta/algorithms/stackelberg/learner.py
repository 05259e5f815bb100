"""``StackelbergLearner``: the follower's and the leader's updates of Algorithm 1 (paper 003).

Each side has its own Adam optimizer; a step gives gradients to the learning side's parameters
alone (``grad_clip`` applied per optimizer), so the frozen side does not move and its
optimizer's state stays as it is.

* Follower (phases 1 and 3), per step ``t`` of each episode: ``log pi_F(a_t | s_t, omega)``
  weighted by the follower's return-to-go ``G_t`` (PG, as RLlib's PG: no baseline), or PPO's
  clipped surrogate with the advantage ``G_t - mean_batch(G_t)`` standardised over the batch
  (a per-step constant in place of a learned critic).
* Leader (phase 2). The leader's decision in an episode is its answer table omega (it commits
  to it; see the EnvRunner), so its episode return ``R`` is the reward of that one decision,
  with ``log pi_L(omega) = sum_s log pi_L(omega_s | s)``: PG ascends ``R log pi_L(omega)``,
  PPO clips the ratio of ``pi_L(omega)``. DQN fits a linear (bias-free) value of the answers,
  ``Q(omega) = sum_s Q(s, omega_s)``, to ``R`` on episodes replayed from a buffer: there is
  no next state to bootstrap from, so the target network of SimpleQ has nothing to do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from envs.matrix.stackelberg import FOLLOWER, LEADER, policy_index
from rllib_meta.algorithms.base.learner import FunctionalLearner, unwrap
from rllib_meta.algorithms.stackelberg.rl_module import StackelbergModule
from rllib_meta.core.advantages import discounted_returns
from rllib_meta.core.policy_gradients import (
    ppo_clip_loss,
    reinforce_loss,
    squared_error_loss,
    standardized,
)

LEADER_OPTIMIZER, FOLLOWER_OPTIMIZER = "leader", "follower"
REPLAY_STATE = "leader_replay"


class LeaderReplay:
    """DQN's replay buffer of leader episodes: answer tables and returns, oldest overwritten."""

    def __init__(self, capacity: int, num_states: int) -> None:
        self.answers = torch.zeros(capacity, num_states, dtype=torch.long)
        self.returns = torch.zeros(capacity)
        self.size = 0
        self.next = 0

    def add(self, answers: torch.Tensor, returns: torch.Tensor) -> None:
        for row in range(answers.shape[0]):
            self.answers[self.next] = answers[row]
            self.returns[self.next] = returns[row]
            self.next = (self.next + 1) % self.answers.shape[0]
            self.size = min(self.size + 1, self.answers.shape[0])

    def sample(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.randint(self.size, (count,), generator=generator)
        return self.answers[rows], self.returns[rows]

    def get_state(self) -> dict[str, Any]:
        return {
            "answers": self.answers.numpy().copy(),
            "returns": self.returns.numpy().copy(),
            "size": self.size,
            "next": self.next,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.answers = torch.from_numpy(np.array(state["answers"]))
        self.returns = torch.from_numpy(np.array(state["returns"]))
        self.size, self.next = int(state["size"]), int(state["next"])


class StackelbergLearner(FunctionalLearner):
    UPDATE_METHODS = "update_follower() or update_leader()"
    LEARNS_FROM = "whole episodes of one side"

    def build(self) -> None:
        super().build()
        seed = 0 if self.config.seed is None else int(self.config.seed)
        num_states = self.tables.leader.in_features
        self.replay = LeaderReplay(self.config.dqn_replay_capacity, num_states)
        self.leader_steps_seen = 0
        # Replay draws and PPO's minibatch shuffles.
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def tables(self) -> StackelbergModule:
        return self.rl_module

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        tables = unwrap(self.module[module_id])
        for name, layer, lr in (
            (LEADER_OPTIMIZER, tables.leader, config.lr),
            (FOLLOWER_OPTIMIZER, tables.follower, config.follower_lr),
        ):
            self.register_torch_optimizer(module_id, name, list(layer.parameters()), lr)

    # -- follower --------------------------------------------------------------------------

    def update_follower(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One PG step or one PPO round on the follower's steps of ``batch``."""
        states = torch.from_numpy(batch["states"])
        contexts = policy_index(torch.from_numpy(batch["answers"])).unsqueeze(1)
        contexts = contexts.expand_as(states)
        steps = torch.arange(states.shape[1]).expand_as(states)
        actions = torch.from_numpy(batch["actions"])[..., FOLLOWER]
        rewards = torch.from_numpy(batch["rewards"])[..., FOLLOWER]
        returns = discounted_returns(rewards, self.config.gamma)

        def log_probs(rows: torch.Tensor) -> torch.Tensor:
            logits = self.tables.follower_logits(states[rows], contexts[rows], steps[rows])
            return torch.log_softmax(logits, dim=-1).gather(-1, actions[rows, :, None])[..., 0]

        if self.config.follower_learner == "pg":
            everything = torch.arange(states.shape[0])
            loss = reinforce_loss(log_probs(everything), returns)
            return {"follower_loss": self._step(self.tables.follower, loss)}
        # PPO's critic, in its simplest form: the batch's mean return-to-go at each step.
        advantages = standardized(returns - returns.mean(dim=0, keepdim=True))
        return {"follower_loss": self._ppo(self.tables.follower, log_probs, advantages)}

    # -- leader ----------------------------------------------------------------------------

    def update_leader(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One update of the leader on the episodes of ``batch`` (see the module docstring)."""
        answers = torch.as_tensor(batch["answers"], device=self._device)
        rewards = torch.as_tensor(batch["rewards"], device=self._device)[..., LEADER]
        returns = discounted_returns(rewards, self.config.gamma)[:, 0]
        learner = self.config.leader_learner
        if learner == "dqn":
            return self._dqn_update(answers, returns, episode_steps=rewards.shape[1])

        def log_probs(rows: torch.Tensor) -> torch.Tensor:
            return self.tables.leader_log_probs(answers[rows])

        if learner == "pg":
            loss = reinforce_loss(log_probs(torch.arange(answers.shape[0])), returns)
            return {"leader_loss": self._step(self.tables.leader, loss)}
        return {"leader_loss": self._ppo(self.tables.leader, log_probs, standardized(returns))}

    def _dqn_update(
        self, answers: torch.Tensor, returns: torch.Tensor, episode_steps: int
    ) -> dict[str, float]:
        self.replay.add(answers, returns)
        self.leader_steps_seen += answers.shape[0] * episode_steps
        if self.leader_steps_seen < self.config.dqn_learning_starts:
            return {}
        for _ in range(self.config.dqn_updates_per_iteration):
            replayed, targets = self.replay.sample(self.config.dqn_batch_size, self.generator)
            values = self.tables.leader_scores()  # (5, 2) action values
            predictions = values.gather(-1, replayed.T).sum(dim=0)  # Q(omega) per episode
            loss = self._step(self.tables.leader, squared_error_loss(predictions, targets))
        return {"leader_loss": loss}

    def greedy_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The leader's greedy answers ``(5,)`` and the follower's greedy table ``(32, 5)``."""
        with torch.no_grad():
            tables = self.tables
            return tables.leader_greedy().numpy(), tables.follower_greedy_table().numpy()

    # -- optimisation ----------------------------------------------------------------------

    def _step(self, side: torch.nn.Module, loss: torch.Tensor) -> float:
        """One optimizer step of ``side`` (the leader's or the follower's table) alone."""
        self.step_on_loss(loss, side.parameters())
        return float(loss.detach())

    def _ppo(self, side: torch.nn.Module, log_probs, advantages: torch.Tensor) -> float:
        """``ppo_epochs`` passes over the episodes in shuffled minibatches of
        ``ppo_minibatch_episodes`` (the whole batch when None), clipped surrogate each step."""
        count = advantages.shape[0]
        size = self.config.ppo_minibatch_episodes or count
        everything = torch.arange(count)
        old_log_probs = log_probs(everything).detach()
        loss = 0.0
        for _ in range(self.config.ppo_epochs):
            order = torch.randperm(count, generator=self.generator)
            for start in range(0, count, size):
                rows = order[start : start + size]
                surrogate = ppo_clip_loss(
                    log_probs(rows), old_log_probs[rows], advantages[rows], self.config.ppo_clip
                )
                loss = self._step(side, surrogate)
        return loss

    # -- checkpoints -----------------------------------------------------------------------

    def get_state(self, components=None, *, not_components=None, **kwargs) -> dict[str, Any]:
        state = super().get_state(components, not_components=not_components, **kwargs)
        state[REPLAY_STATE] = {
            **self.replay.get_state(),
            "steps_seen": self.leader_steps_seen,
            "rng_state": self.generator.get_state().numpy(),
        }
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        if REPLAY_STATE in state:
            self.replay.set_state(state[REPLAY_STATE])
            self.leader_steps_seen = int(state[REPLAY_STATE]["steps_seen"])
            rng_state = np.asarray(state[REPLAY_STATE]["rng_state"])
            self.generator.set_state(torch.from_numpy(rng_state))
