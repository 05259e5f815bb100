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
    theta_i) / kappa``. Computed by :class:`_SortedQuantileHuber` from sorted targets and
    prefix sums, never forming the ``(..., M, M)`` pairwise errors (equal to
    :func:`pairwise_quantile_huber_loss` to float rounding; tests/core/test_quantile.py).
    """
    per_prediction = _SortedQuantileHuber.apply(predictions, targets.detach(), float(kappa))
    return per_prediction.sum(dim=-1).mean()


def pairwise_quantile_huber_loss(
    predictions: torch.Tensor, targets: torch.Tensor, kappa: float = 1.0
) -> torch.Tensor:
    """The same loss written term by term over the ``(..., M, M)`` pairs (the definition;
    ``O(M^2)`` memory): the reference :func:`quantile_huber_loss` is tested against."""
    targets = targets.detach().unsqueeze(-2)
    expanded_predictions = predictions.unsqueeze(-1).expand(*predictions.shape, targets.shape[-1])
    huber = F.huber_loss(
        expanded_predictions, targets.expand_as(expanded_predictions), reduction="none", delta=kappa
    )
    taus = quantile_midpoints(predictions.shape[-1], predictions.dtype).to(predictions.device)
    below = targets < predictions.detach().unsqueeze(-1)  # 1{y_j < theta_i}
    weights = torch.where(below, 1.0 - taus.unsqueeze(-1), taus.unsqueeze(-1))
    return (weights * huber).mean(dim=-1).sum(dim=-1).mean() / kappa


class _SortedQuantileHuber(torch.autograd.Function):
    """Per prediction ``theta_i``: ``mean_j |tau_i - 1{y_j < theta_i}| L_kappa(y_j - theta_i)
    / kappa`` and its derivative, in ``O(M log M)`` per row.

    With the targets sorted, the ``y_j`` fall into four runs relative to ``t = theta_i``:
    ``A: y < t - kappa`` (linear Huber branch, weight ``1 - tau``), ``B: t - kappa <= y < t``
    (quadratic, ``1 - tau``), ``C: t <= y <= t + kappa`` (quadratic, ``tau``), ``D: y > t +
    kappa`` (linear, ``tau``). Each run's sum of ``L_kappa`` (and of its derivative) needs only
    the run's count, sum of ``y`` and sum of ``y^2``: differences of prefix sums at the run
    boundaries found by ``searchsorted``. Targets and predictions are centred on the row's
    mean target first (the loss depends on ``y - t`` only), which keeps ``sum y^2 - 2 t sum y
    + n t^2`` free of cancellation.
    """

    @staticmethod
    def forward(ctx, predictions: torch.Tensor, targets: torch.Tensor, kappa: float):
        count = targets.shape[-1]
        predictions, targets = torch.broadcast_tensors(predictions, targets)
        centre = targets.mean(dim=-1, keepdim=True)
        ys = (targets - centre).sort(dim=-1).values.contiguous()
        ts = (predictions - centre).contiguous()
        zero = ys.new_zeros((*ys.shape[:-1], 1))
        first = torch.cat([zero, ys.cumsum(-1)], dim=-1)  # P1[k] = sum of the k smallest
        second = torch.cat([zero, (ys * ys).cumsum(-1)], dim=-1)
        a = torch.searchsorted(ys, ts - kappa, side="left")  # runs A = [0, a), B = [a, b),
        b = torch.searchsorted(ys, ts, side="left")  #   C = [b, c), D = [c, M)
        c = torch.searchsorted(ys, ts + kappa, side="right")
        end = torch.full_like(c, count)

        def run(lo, hi):
            n = (hi - lo).to(ys.dtype)
            s1 = first.gather(-1, hi) - first.gather(-1, lo)
            s2 = second.gather(-1, hi) - second.gather(-1, lo)
            return n, s1, s2

        n_a, s1_a, _ = run(torch.zeros_like(a), a)
        n_b, s1_b, s2_b = run(a, b)
        n_c, s1_c, s2_c = run(b, c)
        n_d, s1_d, _ = run(c, end)
        quadratic_b = 0.5 * (s2_b - 2.0 * ts * s1_b + n_b * ts * ts)
        quadratic_c = 0.5 * (s2_c - 2.0 * ts * s1_c + n_c * ts * ts)
        linear_a = kappa * (n_a * (ts - 0.5 * kappa) - s1_a)
        linear_d = kappa * (s1_d - n_d * (ts + 0.5 * kappa))
        taus = quantile_midpoints(count, ys.dtype).to(ys.device)
        below, above = 1.0 - taus, taus
        scale = 1.0 / (count * kappa)
        loss = scale * (below * (linear_a + quadratic_b) + above * (quadratic_c + linear_d))
        # d/dt: A gives kappa, B and C give (t - y), D gives -kappa (per target).
        slope_below = kappa * n_a + n_b * ts - s1_b
        slope_above = n_c * ts - s1_c - kappa * n_d
        ctx.save_for_backward(scale * (below * slope_below + above * slope_above))
        return loss

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (derivative,) = ctx.saved_tensors
        return grad_output * derivative, None, None
