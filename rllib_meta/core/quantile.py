"""Quantile-regression TD targets and loss (paper 004, section 4 and Algorithm 1).

The meta-value model predicts ``M`` quantiles of each player's (normalised) meta-return; the
targets are lambda-returns computed per quantile along a short rollout, and the loss is the
quantile Huber loss of Dabney et al. (2018) with quantile midpoints ``tau_i = (i + 1/2) / M``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def quantile_midpoints(num_quantiles: int, dtype=torch.float32) -> torch.Tensor:
    """``tau_i = (i + 1/2) / M``, ``i = 0 .. M-1``."""
    return (torch.arange(num_quantiles, dtype=dtype) + 0.5) / num_quantiles


def lambda_returns(
    rewards: torch.Tensor,
    next_values: torch.Tensor,
    gamma: torch.Tensor,
    lam: float,
) -> torch.Tensor:
    """Normalised lambda-returns of Algorithm 1, computed backwards over a ``k``-step rollout.

    ``Y^(k) = U_bar(x^(k))`` and ``Y^(t) = (1 - g) r_t + g ((1 - lam) U_bar(x^(t+1)) + lam
    Y^(t+1))`` with ``r_t = f(x^(t+1))`` (Appendix A: the reward is scaled by ``1 - g`` so values
    stay on the payoff scale whatever ``g``).

    Args:
        rewards: ``(k, ..., 1 or M)``, ``r_t`` for ``t = 0 .. k-1``.
        next_values: ``(k, ..., M)``, the target model at ``x^(t+1)``.
        gamma: discount per element, broadcasting against ``(..., 1)``.
        lam: the bootstrapping rate lambda in ``[0, 1]``.

    Returns:
        ``(k, ..., M)`` targets (no gradient).
    """
    rewards, next_values = rewards.detach(), next_values.detach()
    following = next_values[-1]
    targets = []
    for step in reversed(range(rewards.shape[0])):
        bootstrap = (1.0 - lam) * next_values[step] + lam * following
        following = (1.0 - gamma) * rewards[step] + gamma * bootstrap
        targets.append(following)
    return torch.stack(targets[::-1])


def quantile_huber_loss(
    predictions: torch.Tensor, targets: torch.Tensor, kappa: float = 1.0
) -> torch.Tensor:
    """Quantile Huber loss (Dabney et al. 2018, Eq. 10), averaged over all leading dimensions.

    ``predictions`` and ``targets`` are ``(..., M)``: predicted quantiles ``theta_i`` and target
    samples ``y_j``; the loss is ``sum_i mean_j |tau_i - 1{y_j < theta_i}| L_kappa(y_j -
    theta_i) / kappa``.
    """
    # Written for memory traffic: the (..., M, M) pairwise tensors dominate the cost, so only
    # three are materialised (F.huber_loss fuses the Huber branches and its backward).
    targets = targets.detach().unsqueeze(-2)
    expanded_predictions = predictions.unsqueeze(-1).expand(*predictions.shape, targets.shape[-1])
    huber = F.huber_loss(
        expanded_predictions, targets.expand_as(expanded_predictions), reduction="none", delta=kappa
    )
    taus = quantile_midpoints(predictions.shape[-1], predictions.dtype).to(predictions.device)
    below = targets < predictions.detach().unsqueeze(-1)  # 1{y_j < theta_i}
    weights = torch.where(below, 1.0 - taus.unsqueeze(-1), taus.unsqueeze(-1))
    return (weights * huber).mean(dim=-1).sum(dim=-1).mean() / kappa
