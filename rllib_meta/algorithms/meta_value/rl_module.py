"""The learned model of a learning rule as an RLlib ``TorchRLModule`` (what the Learner
optimises and checkpoints, and what EnvRunners receive as weights)."""

from __future__ import annotations

import copy

import torch
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

from rllib_meta.algorithms.meta_value.networks import ConsistentUpdateNetwork, MetaValueNetwork


class LearningRuleModule(TorchRLModule):
    """Holds ``model`` (MeVa: ``U_hat``; COLA: ``g_hat``; naive/LOLA/HOLA: none) and, for MeVa,
    ``target_model``, the Polyak average of ``model`` (section 4; not optimised).

    The observation space is the learning-game env's (the joint policy, ``2 n`` numbers), so
    ``n = dim / 2``; ``model_config`` carries ``rule``, ``hidden_size`` and ``num_quantiles``.
    The algorithm's EnvRunners and Learner call the networks directly; RLlib's generic
    inference path (``_forward``) has no meaning for a meta-value and is not provided.
    """

    def setup(self):
        config = self.model_config
        num_params = int(self.observation_space.shape[0]) // 2
        width = int(config["hidden_size"])
        self.model: torch.nn.Module | None = None
        self.target_model: torch.nn.Module | None = None
        if config["rule"] == "meva":
            self.model = MetaValueNetwork(num_params, width, int(config["num_quantiles"]))
            self.target_model = copy.deepcopy(self.model).requires_grad_(False)
        elif config["rule"] == "cola":
            self.model = ConsistentUpdateNetwork(num_params, num_params, width)

    def _forward(self, batch, **kwargs):
        raise NotImplementedError(
            "LearningRuleModule is read by the learning-rule EnvRunner, not by RLlib's "
            "generic sampling path."
        )

    @torch.no_grad()
    def update_target(self, inertia: float) -> None:
        """``theta_bar += (1 - rho) (theta - theta_bar)`` (Algorithm 1, last line)."""
        if self.target_model is None:
            return
        for target, online in zip(
            self.target_model.parameters(), self.model.parameters(), strict=True
        ):
            target.lerp_(online, 1.0 - inertia)
