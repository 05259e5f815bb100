"""``StackelbergAtariTradeLearner``: phase 0's ship update and the trade phases' updates of the
Atari bilateral trade (paper 003 section 4; Algorithm 1).

* Ships (phase 0): PPO (Schulman et al. 2017, Eq. 7 clipped surrogate, Eq. 9 with an entropy
  bonus and a squared-error value loss) on each ship's own kill rewards, GAE(gamma, lambda)
  advantages (Schulman et al. 2016, Eq. 16) per episode, standardised over the batch per ship;
  one Adam for both ship networks (their losses add: they share no parameter).
* Follower (phases 1 and 3), per trade episode (one bullet): ``log pi_F(a | context)`` weighted
  by its per-bullet reward (PG), or PPO's surrogate with the reward minus the batch mean,
  standardised; episodes in which the follower has nothing to decide (a buyer follower when
  the seller keeps) are left out.
* Leader (phase 2): the matrix games' update (:class:`StackelbergLearner.update_leader`):
  PG / PPO on ``log pi_L(omega)``, the sum over its answers, with the episode's reward.

The trade tables' optimizers (``leader``, ``follower``) are the parent's; each step moves one
side only.
"""

from __future__ import annotations

import numpy as np
import torch

from rllib_meta.algorithms.base.learner import unwrap
from rllib_meta.algorithms.stackelberg.atari_trade.rl_module import ROLES
from rllib_meta.algorithms.stackelberg.learner import StackelbergLearner
from rllib_meta.core.advantages import generalized_advantages
from rllib_meta.core.policy_gradients import (
    ppo_clip_loss,
    reinforce_loss,
    squared_error_loss,
    standardized,
)

GAMEPLAY_OPTIMIZER = "gameplay"


class StackelbergAtariTradeLearner(StackelbergLearner):
    UPDATE_METHODS = "update_gameplay(), update_follower() or update_leader()"
    LEARNS_FROM = "whole real episodes (ships) and trade episodes of one side"

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        super().configure_optimizers_for_module(module_id, config)
        params = list(unwrap(self.module[module_id]).ships.parameters())
        self.register_torch_optimizer(module_id, GAMEPLAY_OPTIMIZER, params, config.gameplay_lr)

    # -- phase 0: the ships ----------------------------------------------------------------

    def update_gameplay(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """``gameplay_epochs`` PPO passes over the batch's steps in shuffled minibatches."""
        config, device = self.config, self._device
        observations = torch.from_numpy(batch["observations"]).to(device)
        if observations.dtype == torch.uint8:
            observations = observations.float() / 255.0
        masks = torch.from_numpy(batch["masks"]).to(device)  # (T, 2, 6)
        actions = torch.from_numpy(batch["actions"]).long().to(device)  # (T, 2)
        old_log_probs = torch.from_numpy(batch["log_probs"]).float().to(device)
        rewards = torch.from_numpy(batch["rewards"]).float()
        values = torch.from_numpy(batch["values"]).float()
        lengths = [int(n) for n in batch["episode_lengths"]]
        advantages = torch.cat(
            [
                generalized_advantages(
                    r.T, v.T, config.gameplay_gamma, config.gameplay_lambda
                ).T  # (n, 2)
                for r, v in zip(rewards.split(lengths), values.split(lengths), strict=True)
            ]
        )
        targets = (advantages + values).to(device)  # lambda-returns, the value targets
        advantages = torch.stack([standardized(advantages[:, i]) for i in range(2)], 1).to(device)
        count = observations.shape[0]
        generator = self.generator
        params = list(self.tables.ships.parameters())
        report = {}
        for _ in range(config.gameplay_epochs):
            order = torch.randperm(count, generator=generator).to(device)
            for start in range(0, count, config.gameplay_minibatch_size):
                rows = order[start : start + config.gameplay_minibatch_size]
                loss, report = self._gameplay_loss(
                    observations[rows],
                    masks[rows],
                    actions[rows],
                    old_log_probs[rows],
                    advantages[rows],
                    targets[rows],
                )
                self.step_on_loss(loss, params)
        return report

    def _gameplay_loss(self, observations, masks, actions, old_log_probs, advantages, targets):
        config = self.config
        total = torch.zeros((), device=observations.device)
        report = {}
        for i, role in enumerate(ROLES):
            logits, values = self.tables.ship_outputs(role, observations, masks[:, i])
            distribution = torch.distributions.Categorical(logits=logits)
            log_probs = distribution.log_prob(actions[:, i])
            policy = ppo_clip_loss(
                log_probs, old_log_probs[:, i], advantages[:, i], config.gameplay_clip
            )
            value = squared_error_loss(values, targets[:, i])
            # Masked actions have probability 0: their 0 * log 0 is 0, not NaN.
            probabilities = distribution.probs
            entropy = -(probabilities * torch.log(probabilities.clamp_min(1e-12))).sum(-1).mean()
            total = total + policy + config.gameplay_value_coeff * value
            total = total - config.gameplay_entropy_coeff * entropy
            report[f"{role}_policy_loss"] = float(policy.detach())
            report[f"{role}_value_loss"] = float(value.detach())
            report[f"{role}_entropy"] = float(entropy.detach())
        return total, report

    # -- phases 1 and 3: the follower ------------------------------------------------------

    def update_follower(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One PG step or one PPO round on the follower's trade episodes (module docstring)."""
        device = self._device
        decides = torch.from_numpy(batch["decides"]).to(device)
        contexts = torch.from_numpy(batch["contexts"]).long().to(device)[decides]
        actions = torch.from_numpy(batch["responses"]).long().to(device)[decides]
        rewards = torch.from_numpy(batch["payoff_returns"]).float().to(device)[decides, 1]
        if contexts.shape[0] == 0:
            return {}

        def log_probs(rows: torch.Tensor) -> torch.Tensor:
            logits = self.tables.follower_logits(contexts[rows])
            return torch.log_softmax(logits, dim=-1).gather(-1, actions[rows, None])[:, 0]

        if self.config.follower_learner == "pg":
            everything = torch.arange(contexts.shape[0], device=device)
            loss = reinforce_loss(log_probs(everything), rewards)
            return {"follower_loss": self._step(self.tables.follower, loss)}
        advantages = standardized(rewards - rewards.mean())
        return {"follower_loss": self._ppo(self.tables.follower, log_probs, advantages)}

    # -- phase 2: the leader ---------------------------------------------------------------

    def update_leader(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """The matrix games' leader update on the trade episodes."""
        rewards = np.asarray(batch["rewards"], np.float32)
        return super().update_leader({"answers": batch["answers"], "rewards": rewards})

    def greedy_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The leader's greedy answers ``(queries,)`` and the follower's greedy action per
        context ``(contexts,)``."""
        with torch.no_grad():
            tables = self.tables
            return (
                tables.leader_greedy().cpu().numpy(),
                tables.follower_greedy_table().cpu().numpy(),
            )
