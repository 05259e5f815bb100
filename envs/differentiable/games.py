"""Differentiable two-player games ``f: R^{2 x n} -> R^2`` (paper 004, section 2), in torch.

A game maps a batch of joint policies ``x`` of shape ``(..., 2, n)`` (player ``i``'s parameters
in ``x[..., i, :]``) to both players' objectives ``(..., 2)``, which each player *maximises*.
Everything is batched over the leading dimensions and differentiable to any order, so the
learning rules of :mod:`rllib_meta.core.learning_rules` (naive, LOLA, HOLA, COLA, MeVa) can
differentiate through simulated updates.

* :class:`LogisticGame` (paper 004, Eq. 8): one scalar per player, two stable fixed points,
  A (both negative) and the preferred B (both positive).
* :class:`ExactIPD` (LOLA's exact IPD, paper 004 section 5.2): memory-one policies given by five
  logits of P(cooperate), on LOLA's payoff scale, normalised discounted value with discount 0.96.
* :class:`BilinearZeroSum` (paper 000 Appendix C): ``f_1 = x_1 x_2 = -f_2``, where naive learning
  spirals outward and LOLA converges.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

from envs.matrix.exact import discounted_values, own_first_to_canonical
from envs.matrix.games import ipd_lola

NUM_PLAYERS = 2


class DifferentiableGame(ABC):
    """A batched, differentiable two-player game.

    Attributes:
        name: The registered env name.
        num_params: Parameters per player (``n``).
        symmetric: ``f_1(a, b) == f_2(b, a)``; models shared by both players (MeVa, COLA) need it.
    """

    name: str
    num_params: int
    symmetric: bool

    @abstractmethod
    def values(self, x: torch.Tensor) -> torch.Tensor:
        """Both players' objectives ``(..., 2)`` at joint policies ``x`` ``(..., 2, n)``."""

    @abstractmethod
    def initial_policies(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """``batch_size`` random joint policies ``(batch_size, 2, n)`` (the paper's start
        distribution)."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """A player's parameters ``(..., n)`` as a learned model reads them (identity here).
        Player by player: player ``i``'s features depend on ``x_i`` only."""
        return x

    def own_gradients(self, x: torch.Tensor) -> torch.Tensor | None:
        """``(d f_1 / d x_1, d f_2 / d x_2)`` ``(..., 2, n)`` in closed form where the game has
        one (cheaper than autograd for tiny games); ``None``: differentiate :meth:`values`."""
        return None

    def check_policies(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` has shape ``(..., 2, n)``."""
        if x.dim() < 2 or tuple(x.shape[-2:]) != (NUM_PLAYERS, self.num_params):
            raise ValueError(
                f"{self.name}: joint policies must have shape (..., {NUM_PLAYERS}, "
                f"{self.num_params}), got {tuple(x.shape)}"
            )


class LogisticGame(DifferentiableGame):
    """The Logistic Game (Letcher 2018, as corrected in paper 004, Eq. 8; maximisation):

    ``f_1 = -4 s(x_1) (1 - 2 s(x_2)) - R``, ``f_2 = -4 s(x_2) (1 - 2 s(x_1)) - R``,
    ``R = (x_1^2 x_2^2 + (x_1 - x_2)^2 (x_1 + x_2)^2) / 10000``, ``s`` the logistic sigmoid.
    Initial policies ``U(-8, 8)^2`` (App. D); a model reads ``x_i / 10`` (the authors' notebooks).
    """

    name = "logistic_game"
    num_params = 1
    symmetric = True
    init_range = 8.0
    feature_scale = 10.0

    def values(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[..., 0, 0], x[..., 1, 0]
        s1, s2 = torch.sigmoid(x1), torch.sigmoid(x2)
        penalty = (x1**2 * x2**2 + (x1 - x2) ** 2 * (x1 + x2) ** 2) / 10000.0
        f1 = -4.0 * s1 * (1.0 - 2.0 * s2) - penalty
        f2 = -4.0 * s2 * (1.0 - 2.0 * s1) - penalty
        return torch.stack([f1, f2], dim=-1)

    def own_gradients(self, x: torch.Tensor) -> torch.Tensor:
        """``d f_i / d x_i = -4 s_i (1 - s_i) (1 - 2 s_j) - d R / d x_i`` with
        ``R = (x_1^2 x_2^2 + (x_1^2 - x_2^2)^2) / 10000``."""
        x1, x2 = x[..., 0, 0], x[..., 1, 0]
        s1, s2 = torch.sigmoid(x1), torch.sigmoid(x2)
        difference = x1**2 - x2**2
        penalty_1 = (2.0 * x1 * x2**2 + 4.0 * x1 * difference) / 10000.0
        penalty_2 = (2.0 * x1**2 * x2 - 4.0 * x2 * difference) / 10000.0
        g1 = -4.0 * s1 * (1.0 - s1) * (1.0 - 2.0 * s2) - penalty_1
        g2 = -4.0 * s2 * (1.0 - s2) * (1.0 - 2.0 * s1) - penalty_2
        return torch.stack([g1, g2], dim=-1).unsqueeze(-1).detach()

    def initial_policies(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        unit = torch.rand(batch_size, NUM_PLAYERS, 1, generator=generator)
        return (2.0 * unit - 1.0) * self.init_range

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x / self.feature_scale


class ExactIPD(DifferentiableGame):
    """LOLA's exact iterated prisoner's dilemma (Foerster et al. 2018; paper 004 section 5.2).

    Player ``i``'s five parameters are the logits of P(cooperate) in the start state and after
    CC, CD, DC, DD *seen from its own perspective* (own previous action first), so
    ``f_1(a, b) = f_2(b, a)``. The value is the normalised discounted return
    ``f_i = (1 - g) p_0^T (I - g P)^{-1} R_i`` with ``g = discount`` (0.96), payoffs CC -1,
    CD -3 / 0, DD -2 (:func:`envs.matrix.games.ipd_lola`): -1 is mutual cooperation, -2 mutual
    defection. Initial logits ``N(0, 1)`` (App. E).
    """

    name = "ipd_exact"
    num_params = 5
    symmetric = True

    def __init__(self, discount: float = 0.96):
        if not isinstance(discount, int | float) or isinstance(discount, bool):
            raise ValueError(f"discount must be a number in [0, 1), got {discount!r}")
        if not 0.0 <= discount < 1.0:
            raise ValueError(f"discount must lie in [0, 1), got {discount!r}")
        self.discount = float(discount)
        self._payoffs = torch.tensor(ipd_lola().payoffs, dtype=torch.float32)

    def values(self, x: torch.Tensor) -> torch.Tensor:
        tables = [self.policy_table(x[..., player, :], player) for player in range(NUM_PLAYERS)]
        payoffs = self._payoffs.to(dtype=x.dtype, device=x.device)
        return discounted_values(*tables, payoffs, self.discount, normalize=True, validate=False)

    @staticmethod
    def policy_table(logits: torch.Tensor, player: int) -> torch.Tensor:
        """Player ``player``'s canonical-state policy table ``(..., 5, 2)`` (C = 0, D = 1)."""
        cooperate = torch.sigmoid(logits)
        own_first = torch.stack([cooperate, 1.0 - cooperate], dim=-1)
        return own_first_to_canonical(own_first, player, validate=False)

    def initial_policies(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(batch_size, NUM_PLAYERS, self.num_params, generator=generator)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x)  # probabilities: saturated logits look alike, as they play alike


class BilinearZeroSum(DifferentiableGame):
    """The stateless bilinear zero-sum game (paper 000 Appendix C): ``f_1 = x_1 x_2``,
    ``f_2 = -x_1 x_2``. Naive learning rotates outward by ``sqrt(1 + alpha^2)`` per step; exact
    LOLA contracts (:mod:`rllib_meta.core.learning_rules`). Initial policies ``U(-1, 1)^2``."""

    name = "zero_sum_bilinear"
    num_params = 1
    symmetric = False

    def values(self, x: torch.Tensor) -> torch.Tensor:
        product = x[..., 0, 0] * x[..., 1, 0]
        return torch.stack([product, -product], dim=-1)

    def own_gradients(self, x: torch.Tensor) -> torch.Tensor:
        """``(d f_1 / d x_1, d f_2 / d x_2) = (x_2, -x_1)``."""
        return torch.stack([x[..., 1, :], -x[..., 0, :]], dim=-2).detach()

    def initial_policies(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return 2.0 * torch.rand(batch_size, NUM_PLAYERS, 1, generator=generator) - 1.0


def naive_growth_factor(alpha: float) -> float:
    """Per-step radius growth of naive learning on :class:`BilinearZeroSum`: the update matrix
    ``[[1, a], [-a, 1]]`` has eigenvalues of modulus ``sqrt(1 + a^2)``."""
    return math.sqrt(1.0 + alpha**2)
