"""``LeaderLearner``: the leader's REINFORCE step (paper 003, Appendix B) on RLlib's
TorchLearner (optimizer registration, state and checkpointing are RLlib's)."""

from __future__ import annotations

import numpy as np
import torch

from rllib_meta.algorithms.base.learner import FunctionalLearner, unwrap
from rllib_meta.algorithms.follower_learning_demo.dynamics import reinforce_loss
from rllib_meta.algorithms.follower_learning_demo.rl_module import LeaderModule

OPTIMIZER = "leader"


class LeaderLearner(FunctionalLearner):
    UPDATE_METHODS = "update_from_plays()"
    LEARNS_FROM = "single-shot plays"

    @property
    def leader(self) -> LeaderModule:
        return self.rl_module

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        params = list(unwrap(self.module[module_id]).parameters())
        self.register_torch_optimizer(module_id, OPTIMIZER, params, config.lr)

    def update_from_plays(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One Adam step on the REINFORCE loss of the leader's batch of plays."""
        actions = torch.from_numpy(batch["leader_actions"])
        rewards = torch.from_numpy(batch["leader_rewards"]).float()
        loss = reinforce_loss(self.leader.start_logits(), actions, rewards)
        self.step_on_loss(loss, self.leader.parameters())
        return {"leader_loss": float(loss.detach())}
