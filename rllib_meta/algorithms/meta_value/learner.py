"""``LearningRuleLearner``: trains MeVa's meta-value model or COLA's update model on RLlib's
TorchLearner (optimizer registration, state and checkpointing are RLlib's).

* MeVa (Algorithm 1, inner ``for i``): lambda-return targets from the target model along the
  on-policy rollouts, quantile Huber loss on ``U_hat(x^(t))``, one AdamW step, then the Polyak
  update of the target model.
* COLA (App. B): the consistency loss on the visited joint policies, one AdamW step.
* naive / LOLA / HOLA have no model: nothing to update.
"""

from __future__ import annotations

import numpy as np
import torch

import envs
from rllib_meta.algorithms.base.learner import FunctionalLearner, unwrap
from rllib_meta.algorithms.meta_value.rl_module import LearningRuleModule
from rllib_meta.core.learning_rules import cola_consistency_loss
from rllib_meta.core.quantile import lambda_returns, quantile_huber_loss

OPTIMIZER = "model"


class LearningRuleLearner(FunctionalLearner):
    UPDATE_METHODS = "update_from_trajectories()"
    LEARNS_FROM = "optimisation trajectories"

    def build(self) -> None:
        super().build()
        self.game = envs.make(self.config.env, **dict(self.config.env_config)).game

    @property
    def rule_module(self) -> LearningRuleModule:
        return self.rl_module

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        model = unwrap(self.module[module_id]).model
        if model is None:  # naive / LOLA / HOLA: nothing to learn
            return
        self.register_torch_optimizer(
            module_id,
            OPTIMIZER,
            list(model.parameters()),
            config.lr,
            torch.optim.AdamW,
            weight_decay=config.weight_decay,
        )

    def update_from_trajectories(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """One model update on a stride of trajectories (see the module docstring)."""
        states = torch.from_numpy(batch["states"])
        if self.config.rule == "meva":
            loss = self.meta_value_loss(states, torch.from_numpy(batch["gamma"]), batch)
        elif self.config.rule == "cola":
            loss = self.consistency_loss(states, torch.from_numpy(batch["alpha"]))
        else:
            return {}
        self.step_on_loss(loss, self.rule_module.model.parameters())
        if not self.last_update_skipped:  # a skipped update changes nothing
            self.rule_module.update_target(self.config.target_inertia)
        return {"loss": float(loss.detach())}

    def meta_value_loss(self, states: torch.Tensor, gamma: torch.Tensor, batch) -> torch.Tensor:
        """Quantile TD loss of Algorithm 1 on a rollout ``states`` ``(k + 1, B, 2, n)``."""
        module, features = self.rule_module, self.game.features
        rewards = torch.from_numpy(batch["rewards"]).unsqueeze(-1)  # f(x^(t+1)), (k, B, 2, 1)
        with torch.no_grad():
            next_values = module.target_model(features(states[1:]), gamma)
        targets = lambda_returns(rewards, next_values, gamma.unsqueeze(-1), self.config.td_lambda)
        predictions = module.model(features(states[:-1]), gamma)
        return quantile_huber_loss(predictions, targets)

    def consistency_loss(self, states: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """COLA's consistency loss at every visited joint policy, each pair with its alpha."""
        model, features = self.rule_module.model, self.game.features
        points = states.reshape(-1, *states.shape[2:])
        alphas = alpha.expand(states.shape[0], *alpha.shape).reshape(-1, 2)

        def model_field(x: torch.Tensor) -> torch.Tensor:
            return model(features(x), alphas)

        return cola_consistency_loss(
            self.game.values, points, alphas[:, :1].unsqueeze(-1), model_field
        )
