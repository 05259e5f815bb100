"""The learned models of MeVa and COLA (paper 004, App. D-E, and the authors' notebooks).

Both read a joint policy player by player: an MLP embeds each player's features with its
conditioning scalar (MeVa: its discount ``gamma_i``; COLA: the look-ahead rate ``alpha``), and a
second MLP reads ``(own embedding, opponent embedding)``. The parameters are shared by both
players (App. D: the games are symmetric, ``f_1(a, b) = f_2(b, a)``), so player 2's output is the
same network applied with the roles swapped.

Deviation: the paper's MLPs hold gated residual blocks; the authors' final notebook
configuration has none, and neither do these (layer-normalised GELU layers only).
"""

from __future__ import annotations

import torch
from torch import nn

NUM_PLAYERS = 2


def _layer(inputs: int, outputs: int) -> nn.Sequential:
    """A layer-normalised GELU layer (App. D)."""
    return nn.Sequential(nn.Linear(inputs, outputs), nn.LayerNorm(outputs), nn.GELU())


class PairwiseNetwork(nn.Module):
    """``out_i = head(tanh(trunk(embed(p_i, c_i), embed(p_j, c_j))))`` for both players.

    The last hidden layer is a ``tanh`` layer (App. E: a signed nonlinearity whose units MeVa's
    exploration flips); ``forward`` accepts a sign mask for it.
    """

    def __init__(self, num_features: int, width: int, num_outputs: int):
        super().__init__()
        self.width = width
        self.embed = nn.Sequential(_layer(num_features + 1, width), _layer(width, width))
        self.trunk = nn.Sequential(_layer(2 * width, width), nn.Linear(width, width))
        self.head = nn.Linear(width, num_outputs)

    def forward(
        self,
        features: torch.Tensor,
        condition: torch.Tensor,
        signs: torch.Tensor | None = None,
        hold_opponent: bool = False,
    ) -> torch.Tensor:
        """``features`` ``(..., 2, n)``, ``condition`` ``(..., 2)``, optional ``signs``
        ``(..., width)`` of +-1 (one mask per policy pair, shared by both players);
        returns ``(..., 2, num_outputs)``.

        ``hold_opponent``: the opponent's embedding enters each player's output detached, so
        player ``i``'s output carries gradient through its own features only (one backward
        pass of the players' summed outputs then gives each player's own gradient)."""
        condition = condition.expand(features.shape[:-1]).unsqueeze(-1)
        embedded = self.embed(torch.cat([features, condition], dim=-1))
        opponent = embedded.detach() if hold_opponent else embedded
        own_then_opponent = torch.cat([embedded, opponent.flip(-2)], dim=-1)
        hidden = torch.tanh(self.trunk(own_then_opponent))
        if signs is not None:
            hidden = hidden * signs.unsqueeze(-2)
        return self.head(hidden)


class MetaValueNetwork(nn.Module):
    """``U_hat(x; theta, gamma)``: ``M`` quantiles of each player's normalised meta-value
    (section 4.1: the value of the points that follow ``x`` on the optimisation path)."""

    def __init__(self, num_features: int, width: int, num_quantiles: int):
        super().__init__()
        self.network = PairwiseNetwork(num_features, width, num_quantiles)

    def forward(self, features, gamma, signs=None, hold_opponent=False) -> torch.Tensor:
        return self.network(features, gamma, signs, hold_opponent)  # (..., 2, M)


class ConsistentUpdateNetwork(nn.Module):
    """COLA's ``g_hat(x; theta)``: each player's update direction ``(..., 2, n)``, conditioned
    on the look-ahead rate ``alpha`` (App. D: one model for ``alpha ~ U[0, alpha_max]``)."""

    def __init__(self, num_features: int, num_params: int, width: int):
        super().__init__()
        self.network = PairwiseNetwork(num_features, width, num_params)

    def forward(self, features, alpha) -> torch.Tensor:
        return self.network(features, alpha)
