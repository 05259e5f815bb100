"""``PolicyPairEnvRunner``: generates optimisation trajectories of policy pairs (paper 004).

The runner holds a batch of joint policies (its share of ``policy_pairs``) that follow the
configured learning rule and restart from the game's initial distribution every ``horizon``
steps. One ``sample()`` is one stride of ``k`` steps (Algorithm 1):

* naive / LOLA / HOLA / COLA: the pairs take ``k`` steps of their rule; the visited joint
  policies are returned (COLA's Learner fits its consistency loss on them; COLA pairs draw their
  look-ahead rate ``alpha ~ U[0, lookahead_rate]`` at each restart, the model's condition);
* MeVa: the pairs form the *exploratory* trajectory (perturbed model, its own gammas, section
  4.3); from its current point a ``k``-step on-policy rollout with the unperturbed model and
  fresh gammas is returned for the TD targets, then the exploratory trajectory advances ``k``
  steps. Deviation from Algorithm 1 as printed, which advances the exploratory trajectory before
  the first rollout: here the first rollout starts at the initial point, so with ``T = k`` (the
  Logistic Game setting) the initial region is trained on too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rllib_meta.algorithms.base.env_runner import SamplingEnvRunner
from rllib_meta.core.learning_rules import learning_step
from rllib_meta.core.rule_fields import RuleSpec, meta_value_field, rule_field


@dataclass
class PolicyPairs:
    """The runner's trajectory: joint policies ``x`` ``(B, 2, n)``, steps since the restart,
    the per-pair condition (MeVa: gamma per player; COLA: alpha) and MeVa's exploration signs."""

    x: torch.Tensor
    step: int
    condition: torch.Tensor | None
    signs: torch.Tensor | None


class PolicyPairEnvRunner(SamplingEnvRunner):
    """Optimisation-trajectory sampler for the differentiable games."""

    RANDOM_GENERATORS = ("generator",)

    def __init__(self, *, config, **kwargs):
        super().__init__(config=config, **kwargs)
        self.game = self.env.game
        self.rule = RuleSpec(config.rule, float(config.lookahead_rate), int(config.hola_order))
        self.generator = torch.Generator().manual_seed(self.seed)
        self.pairs = self._restart()

    @property
    def num_pairs(self) -> int:
        """The policy pairs of the share being sampled (``self.share``)."""
        return self.share.of(self.config.policy_pairs)

    # -- trajectories ----------------------------------------------------------------------

    def _restart(self) -> PolicyPairs:
        """Fresh pairs from the game's initial distribution, with their condition and signs."""
        x = self.game.initial_policies(self.num_pairs, self.generator)
        condition, signs = None, None
        if self.config.rule == "meva":
            condition = self.draw_gammas(self.num_pairs)
            signs = self._exploration_signs()
        elif self.config.rule == "cola":
            alpha = torch.rand(self.num_pairs, 1, generator=self.generator)
            condition = (alpha * self.config.lookahead_rate).expand(-1, 2).contiguous()
        return PolicyPairs(x, 0, condition, signs)

    def draw_gammas(self, count: int) -> torch.Tensor:
        """MeVa's ``gamma`` per player and pair: fixed ``meta_gamma``, or ``Beta(1/2, 1/2)``
        draws (section 4.2: the arcsine distribution emphasises the extremes)."""
        if self.config.meta_gamma is not None:
            return torch.full((count, 2), float(self.config.meta_gamma))
        uniform = torch.rand(count, 2, generator=self.generator)
        return torch.sin(0.5 * torch.pi * uniform) ** 2  # inverse CDF of Beta(1/2, 1/2)

    def _exploration_signs(self) -> torch.Tensor | None:
        """One sign mask per pair over the model's last hidden layer (section 4.3)."""
        probability = self.config.exploration_flip_prob
        if probability == 0.0:
            return None
        width = self.config.hidden_size
        flips = torch.rand(self.num_pairs, width, generator=self.generator) < probability
        return 1.0 - 2.0 * flips.float()

    def rollout(self, x: torch.Tensor, steps: int, field) -> torch.Tensor:
        """``steps`` learning steps from ``x`` along ``field(x)``: ``(steps + 1, B, 2, n)``."""
        states = [x]
        for _ in range(steps):
            states.append(learning_step(states[-1], field(states[-1]), self.config.policy_lr))
        return torch.stack(states)

    def _policy_field(self, condition: torch.Tensor | None):
        model = self.module.model
        return lambda x: rule_field(self.rule, self.game, x, model=model, condition=condition)

    def meva_rollouts(self, pairs: PolicyPairs, gamma: torch.Tensor):
        """MeVa's two ``k``-step rollouts from ``pairs.x`` as ONE batch of ``2 B`` pairs (the
        pairs are independent, so stacking changes nothing but the per-step overhead):
        rows ``:B`` the on-policy rollout (unperturbed model, fresh ``gamma``), rows ``B:`` the
        exploratory one (the trajectory's gammas; with exploration signs, ``U_hat`` alone,
        footnote 2: the unperturbed ``grad f`` term would wash the perturbation out).
        Returns both ``(k + 1, B, 2, n)``."""
        count = self.num_pairs
        x = torch.cat([pairs.x, pairs.x])
        gammas = torch.cat([gamma, pairs.condition])
        signs, include_game = None, True
        if pairs.signs is not None:
            signs = torch.cat([torch.ones_like(pairs.signs), pairs.signs])
            include_game = torch.arange(2 * count) < count
        model = self.module.model

        def field(y: torch.Tensor) -> torch.Tensor:
            return meta_value_field(self.game, model, y, gammas, signs, include_game)

        states = self.rollout(x, self.config.stride, field)
        return states[:, :count], states[:, count:]

    # -- RLlib sampling entry point --------------------------------------------------------

    def sample(self, **kwargs) -> dict[str, np.ndarray]:
        """One stride (see the module docstring); returns numpy arrays for the Learner."""
        if self.pairs.step >= self.config.horizon:
            self.pairs = self._restart()
        stride = self.config.stride
        pairs = self.pairs
        if self.config.rule == "meva":
            gamma = self.draw_gammas(self.num_pairs)
            states, exploratory = self.meva_rollouts(pairs, gamma)
            pairs.x = exploratory[-1]
            batch = {"gamma": gamma.numpy(), "rewards": self.game.values(states[1:]).numpy()}
        else:
            states = self.rollout(pairs.x, stride, self._policy_field(pairs.condition))
            pairs.x = states[-1]
            batch = {} if pairs.condition is None else {"alpha": pairs.condition.numpy()}
        pairs.step += stride
        self.num_env_steps_sampled_lifetime += stride * self.num_pairs
        returns = self.game.values(states[-1]).numpy()  # where the stride ended, (B, 2)
        return {"states": states.numpy(), "returns": returns, **batch}

    def current_policies(self) -> np.ndarray:
        """The trajectory's joint policies now, ``(B, 2, n)``."""
        return self.pairs.x.numpy()

    # -- checkpoints -----------------------------------------------------------------------

    def sampler_state(self) -> dict[str, Any]:
        pairs = self.pairs
        return {
            "x": pairs.x.numpy(),
            "step": pairs.step,
            "condition": None if pairs.condition is None else pairs.condition.numpy(),
            "signs": None if pairs.signs is None else pairs.signs.numpy(),
        }

    def load_sampler_state(self, state: dict[str, Any]) -> None:
        self.pairs = PolicyPairs(
            torch.from_numpy(np.asarray(state["x"])),
            int(state["step"]),
            _optional_tensor(state["condition"]),
            _optional_tensor(state["signs"]),
        )


def _optional_tensor(value) -> torch.Tensor | None:
    return None if value is None else torch.from_numpy(np.asarray(value))
