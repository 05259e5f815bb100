"""The leader of paper 003, Appendix B as an RLlib ``TorchRLModule``: a mixed strategy over
{C, D}, the softmax of a linear, bias-free map of the one-hot observation (a lookup table; on the
single-shot game only the start state's row is ever used)."""

from __future__ import annotations

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

from envs.matrix.games import START_STATE


class LeaderModule(TorchRLModule):
    """``policy``: ``Linear(num_states, num_actions, bias=False)``; ``start_logits()`` are the
    logits of the single-shot game's only state (what the demo's EnvRunner and Learner use)."""

    def setup(self):
        num_states = int(self.observation_space.shape[0])
        self.policy = torch.nn.Linear(num_states, int(self.action_space.n), bias=False)

    def start_logits(self) -> torch.Tensor:
        """The logits at the start state, ``(num_actions,)``."""
        observation = torch.zeros(self.policy.in_features)
        observation[START_STATE] = 1.0
        return self.policy(observation)

    @torch.no_grad()
    def cooperation_probability(self) -> float:
        """The leader's probability of C (action 0) at the start state."""
        return float(torch.softmax(self.start_logits(), dim=-1)[0])

    def _forward(self, batch, **kwargs):
        return {Columns.ACTION_DIST_INPUTS: self.policy(batch[Columns.OBS].float())}

    def get_inference_action_dist_cls(self):
        from ray.rllib.models.torch.torch_distributions import TorchCategorical

        return TorchCategorical

    get_exploration_action_dist_cls = get_inference_action_dist_cls
    get_train_action_dist_cls = get_inference_action_dist_cls
