"""The five learning rules by name, as gradient fields on a game (paper 004): what a policy pair
follows. MeVa's EnvRunner and its evaluations (:mod:`rllib_meta.algorithms.meta_value`) both
call :func:`rule_field`, so training and evaluation follow the same field.

``naive`` (Eq. 1), ``lola`` and ``hola`` (App. B, exact) need no model; ``cola`` follows its
learned update model; ``meva`` ascends ``V_hat = (1 - gamma) f + gamma U_hat_E`` (section 4.1,
normalised as in Appendix A), so ``gamma = 0`` is exactly naive learning.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from envs.differentiable.games import DifferentiableGame
from rllib_meta.core.learning_rules import (
    Objective,
    hola_gradient,
    lola_gradient,
    simultaneous_gradient,
)

RULES = ("naive", "lola", "hola", "cola", "meva")
MODEL_RULES = ("cola", "meva")


@dataclass(frozen=True)
class RuleSpec:
    """A learning rule and its settings: ``lookahead_rate`` is LOLA's / HOLA's / COLA's
    ``alpha`` (the imagined opponent step); ``order`` is HOLA's recursion depth."""

    rule: str
    lookahead_rate: float = 1.0
    order: int = 2


def meta_value_objective(
    game: DifferentiableGame,
    model: torch.nn.Module,
    gamma: torch.Tensor,
    signs: torch.Tensor | None = None,
    *,
    include_game: bool = True,
) -> Objective:
    """``x -> (1 - gamma) f(x) + gamma U_hat_E(x; theta, gamma)`` per player (Alg. 1's update,
    with the normalisation of App. A). ``U_hat_E`` is the mean over quantiles (App. C).
    ``include_game=False`` gives ``U_hat_E`` alone: the exploratory update of footnote 2."""

    def objective(x: torch.Tensor) -> torch.Tensor:
        meta_value = model(game.features(x), gamma, signs).mean(dim=-1)
        if not include_game:
            return meta_value
        return (1.0 - gamma) * game.values(x) + gamma * meta_value

    return objective


def rule_field(
    spec: RuleSpec,
    game: DifferentiableGame,
    x: torch.Tensor,
    *,
    model: torch.nn.Module | None = None,
    condition: torch.Tensor | None = None,
) -> torch.Tensor:
    """The update direction ``(..., 2, n)`` of ``spec.rule`` at ``x`` (detached).

    ``condition`` is MeVa's per-player ``gamma`` ``(..., 2)`` or COLA's per-pair ``alpha``
    ``(..., 2)`` (both entries equal); ``model`` is the rule's learned network.
    """
    if spec.rule == "naive":
        return simultaneous_gradient(game.values, x)
    if spec.rule == "lola":
        return lola_gradient(game.values, x, spec.lookahead_rate)
    if spec.rule == "hola":
        return hola_gradient(game.values, x, spec.lookahead_rate, order=spec.order)
    if spec.rule == "cola":
        return model(game.features(x), condition).detach()
    if spec.rule == "meva":
        return simultaneous_gradient(meta_value_objective(game, model, condition), x)
    raise ValueError(f"unknown learning rule {spec.rule!r}; allowed: {list(RULES)}")
