"""Learning rules of differentiable two-player games (paper 004, sections 2-4 and App. B).

Every rule is a *gradient field*: a function of the joint policy ``x`` ``(..., 2, n)`` returning
each player's update direction ``(..., 2, n)``; a learning step is ``x + lr * field``. An
``objective`` maps ``x`` to both players' objectives ``(..., 2)`` (maximised), e.g.
``game.values``. Batch elements must be independent (the objective of pair ``b`` depends only on
``x[b]``), which lets one backward pass of a summed objective give every pair's gradient.

Notation of the paper: ``grad-bar f(x) = (d f_1 / d x_1, d f_2 / d x_2)`` (Eq. 1), and
``S_j^T S_j v`` keeps only player ``j``'s block of ``v``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Objective = Callable[[torch.Tensor], torch.Tensor]
Field = Callable[[torch.Tensor], torch.Tensor]

NUM_PLAYERS = 2


def simultaneous_gradient(
    objective: Objective, x: torch.Tensor, create_graph: bool = False
) -> torch.Tensor:
    """``grad-bar f(x)`` (paper 004, Eq. 1): player ``i``'s gradient of ``f_i`` w.r.t. ``x_i``.

    With ``create_graph=True`` the result is differentiable in ``x`` (for LOLA/HOLA/COLA/MeVa
    look-ahead); otherwise it is detached and comes from one backward pass of the objective
    evaluated with each player's opponent held fixed (:func:`held_opponent_objective`).
    """
    if not create_graph:
        return own_block_gradient(held_opponent_objective(objective), x)
    x = _requiring_grad(x)
    with torch.enable_grad():
        values = objective(x)
        blocks = []
        for player in range(NUM_PLAYERS):
            (grad,) = torch.autograd.grad(
                values[..., player].sum(), x, create_graph=True, retain_graph=True
            )
            blocks.append(grad[..., player, :])
    return torch.stack(blocks, dim=-2)


def held_opponent_objective(objective: Objective) -> Objective:
    """``x -> (f_1(x_1, [x_2]), f_2([x_1], x_2))``, ``[.]`` a block held fixed (no gradient).

    Both players' evaluations are one batched call of ``objective`` on two copies of ``x``
    (copy ``p`` carries gradient in player ``p``'s block only), so the gradient of the sum of
    the result w.r.t. ``x`` is exactly ``grad-bar f(x)``.
    """

    def held(x: torch.Tensor) -> torch.Tensor:
        own = torch.eye(NUM_PLAYERS, dtype=torch.bool, device=x.device).unsqueeze(-1)
        copies = torch.where(own, x.unsqueeze(-3), x.detach().unsqueeze(-3))  # (..., 2, 2, n)
        return torch.diagonal(objective(copies), dim1=-2, dim2=-1)  # copy p, player p

    return held


def own_block_gradient(held_objective: Objective, x: torch.Tensor) -> torch.Tensor:
    """``grad-bar f(x)`` from ONE backward pass, detached: ``held_objective(x)`` must be the
    players' objectives ``(..., 2)`` in which ``f_i`` depends on ``x`` through ``x_i`` only
    (each opponent's block held fixed), so that ``d (sum_i f_i) / d x_i = d f_i / d x_i``."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(held_objective(x).sum(), x)
    return grad


def opponent_shift(x: torch.Tensor, update: torch.Tensor, alpha: float, player: int):
    """``x + alpha * S_j^T S_j update`` with ``j`` the opponent of ``player``: only the
    opponent's block is extrapolated (App. B: each player looks ahead at its opponent only)."""
    opponent_mask = torch.zeros(NUM_PLAYERS, 1, dtype=x.dtype, device=x.device)
    opponent_mask[1 - player] = 1.0
    return x + alpha * opponent_mask * update


def lookahead_gradient(
    objective: Objective,
    x: torch.Tensor,
    alpha: float,
    opponent_field: Field,
    create_graph: bool = False,
) -> torch.Tensor:
    """``grad-bar (f_1(x + a S_2^T S_2 g(x)), f_2(x + a S_1^T S_1 g(x)))`` (App. B), differentiating
    through the imagined opponent update ``g = opponent_field`` (no Taylor expansion).

    ``opponent_field`` must return a result differentiable in ``x`` (``create_graph=True``).
    """
    x = _requiring_grad(x)
    with torch.enable_grad():
        imagined = opponent_field(x)
        blocks = []
        for player in range(NUM_PLAYERS):
            value = objective(opponent_shift(x, imagined, alpha, player))[..., player]
            (grad,) = torch.autograd.grad(
                value.sum(), x, create_graph=create_graph, retain_graph=True
            )
            blocks.append(grad[..., player, :])
    return torch.stack(blocks, dim=-2)


def lola_gradient(
    objective: Objective, x: torch.Tensor, alpha: float, create_graph: bool = False
) -> torch.Tensor:
    """Exact LOLA (App. B): each player ascends its objective after the opponent's imagined
    naive step of size ``alpha``; HOLA1."""
    return hola_gradient(objective, x, alpha, order=1, create_graph=create_graph)


def hola_gradient(
    objective: Objective, x: torch.Tensor, alpha: float, order: int, create_graph: bool = False
) -> torch.Tensor:
    """HOLA-``order`` (App. B): the LOLA surrogate applied recursively, the opponent imagined
    to follow HOLA-``(order - 1)``; HOLA0 is naive learning, HOLA1 is LOLA."""
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise ValueError(f"HOLA order must be an integer >= 0, got {order!r}")
    if order == 0:
        return simultaneous_gradient(objective, x, create_graph=create_graph)

    def opponent_field(y: torch.Tensor) -> torch.Tensor:
        return hola_gradient(objective, y, alpha, order - 1, create_graph=True)

    return lookahead_gradient(objective, x, alpha, opponent_field, create_graph=create_graph)


def cola_consistency_loss(
    objective: Objective, x: torch.Tensor, alpha: float | torch.Tensor, model_field: Field
) -> torch.Tensor:
    """COLA's consistency loss (App. B): the mean squared difference between the model's update
    ``g(x)`` and the LOLA update computed with ``g`` as the opponent's imagined update,
    ``grad-bar (f_1(x + a S_2^T S_2 g(x)), f_2(x + a S_1^T S_1 g(x)))``.

    Both sides depend on the model and both are differentiated (as in Willi et al. 2022's
    objective); ``alpha`` may be a tensor broadcasting against ``(..., 1, 1)`` (one per pair).
    """
    x = x.detach()
    prediction = model_field(x)
    target = lookahead_gradient(objective, x, alpha, model_field, create_graph=True)
    return (prediction - target).pow(2).sum(dim=(-2, -1)).mean()


def learning_step(x: torch.Tensor, field: torch.Tensor, lr: float | torch.Tensor) -> torch.Tensor:
    """One gradient-ascent step ``x + lr * field`` (Eq. 1 and Eq. 6), detached."""
    return (x + lr * field).detach()


def _requiring_grad(x: torch.Tensor) -> torch.Tensor:
    """``x`` itself if it is part of a graph already, else a detached copy that requires grad."""
    return x if x.requires_grad else x.detach().requires_grad_(True)
