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
    hola_gradient,
    lola_gradient,
    own_block_gradient,
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


def game_gradient(game: DifferentiableGame, x: torch.Tensor) -> torch.Tensor:
    """``grad-bar f(x)`` (Eq. 1), detached: the game's closed form where it has one, else one
    backward pass with each opponent held fixed."""
    closed_form = game.own_gradients(x)
    return closed_form if closed_form is not None else simultaneous_gradient(game.values, x)


def meta_value_field(
    game: DifferentiableGame,
    model: torch.nn.Module,
    x: torch.Tensor,
    gamma: torch.Tensor,
    signs: torch.Tensor | None = None,
    include_game: bool | torch.Tensor = True,
) -> torch.Tensor:
    """``grad-bar V_hat(x)`` with ``V_hat = (1 - gamma) f(x) + gamma U_hat_E(x; theta, gamma)``
    per player (Alg. 1's policy update, normalised as in App. A; ``U_hat_E`` is the mean over
    quantiles, App. C), detached: ``(1 - gamma) grad-bar f + gamma grad-bar U_hat_E``, the
    second from one backward pass (``hold_opponent``: each player's ``U_hat_i`` is
    differentiated through its own block only).

    ``include_game=False`` differentiates ``U_hat_E`` alone: the exploratory update of
    footnote 2; a boolean tensor ``(...)`` chooses per pair, so one call serves a batch that
    stacks on-policy and exploratory pairs.
    """

    def held_meta_value(y: torch.Tensor) -> torch.Tensor:
        return model(game.features(y), gamma, signs, hold_opponent=True).mean(dim=-1)

    meta_value_gradient = own_block_gradient(held_meta_value, x)
    if include_game is False:
        return meta_value_gradient
    weight = gamma.unsqueeze(-1)
    mixed = (1.0 - weight) * game_gradient(game, x) + weight * meta_value_gradient
    if include_game is True:
        return mixed
    return torch.where(include_game.reshape(*include_game.shape, 1, 1), mixed, meta_value_gradient)


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
        return game_gradient(game, x)
    if spec.rule == "lola":
        return lola_gradient(game.values, x, spec.lookahead_rate)
    if spec.rule == "hola":
        return hola_gradient(game.values, x, spec.lookahead_rate, order=spec.order)
    if spec.rule == "cola":
        return model(game.features(x), condition).detach()
    if spec.rule == "meva":
        return meta_value_field(game, model, x, condition)
    raise ValueError(f"unknown learning rule {spec.rule!r}; allowed: {list(RULES)}")
