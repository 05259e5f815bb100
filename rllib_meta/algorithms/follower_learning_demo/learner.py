"""``LeaderLearner``: the leader's REINFORCE step (paper 003, Appendix B) on RLlib's
TorchLearner (optimizer registration, state and checkpointing are RLlib's)."""

from __future__ import annotations

import os

import numpy as np
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.learner.torch.torch_learner import TorchLearner

from rllib_meta.algorithms.follower_learning_demo.dynamics import reinforce_loss
from rllib_meta.algorithms.follower_learning_demo.rl_module import LeaderModule, unwrap

OPTIMIZER = "leader"


class LeaderLearner(TorchLearner):
    def build(self) -> None:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        super().build()

    @property
    def leader(self) -> LeaderModule:
        return unwrap(self.module[DEFAULT_MODULE_ID])

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        params = list(unwrap(self.module[module_id]).parameters())
        self.register_optimizer(
            module_id=module_id,
            optimizer_name=OPTIMIZER,
            optimizer=torch.optim.Adam(params, lr=config.lr),
            params=params,
            lr_or_lr_schedule=config.lr,
        )

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        raise NotImplementedError(
            "The demo's leader learns from single-shot plays: call update_from_plays()."
        )

    def update_from_plays(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One Adam step on the REINFORCE loss of the leader's batch of plays."""
        actions = torch.from_numpy(batch["leader_actions"])
        rewards = torch.from_numpy(batch["leader_rewards"]).float()
        loss = reinforce_loss(self.leader.start_logits(), actions, rewards)
        params = list(self.leader.parameters())
        grads = torch.autograd.grad(loss, params)
        self.apply_gradients({self.get_param_ref(p): g for p, g in zip(params, grads, strict=True)})
        return {"leader_loss": float(loss.detach())}
