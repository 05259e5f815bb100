"""Discounted returns and generalised advantage estimation (Schulman et al. 2016).

Trajectories are ``(B, T)`` batches that all end at step ``T`` (the fixed-horizon episodes of
the Meta-MAPG games), so the value after the last step is 0; leading batch dimensions
``(..., B, T)`` (one per Meta-MAPG chain of a meta-batch) are computed independently. Both
estimators are sums of discounted future terms, computed as one product with an
upper-triangular discount matrix instead of a Python loop over time: ``T`` is at most a few
hundred here, so the ``T x T`` matrix is small.
"""

from __future__ import annotations

import numbers

import torch

__all__ = ["discounted_returns", "generalized_advantages"]


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """Reward-to-go ``R_t = sum_{k >= t} gamma^(k - t) r_k`` for every step: ``(B, T)``.

    The regression target of the linear feature baseline and of the Meta-MAPG value network.
    Differentiable in ``rewards``.
    """
    _check_rewards(rewards)
    _check_coefficient(gamma, "gamma")
    return _discounted_future_sums(rewards, gamma)


def generalized_advantages(
    rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float
) -> torch.Tensor:
    """GAE(gamma, lambda) advantages (Schulman et al. 2016, Eq. 16): ``(B, T)``.

    ``A_t = sum_{k >= t} (gamma lam)^(k - t) delta_k`` with TD residuals
    ``delta_t = r_t + gamma V(s_{t+1}) - V(s_t)`` (Eq. 10) and ``V(s_T) = 0`` (episodes end at
    ``T``). ``lam = 1`` gives ``R_t - V(s_t)``, ``lam = 0`` the one-step residual.

    ``values`` ``(B, T)`` are detached: advantages weight the score function of the policy loss
    as constants, and the value network is trained on its own loss, not through them.
    """
    _check_rewards(rewards)
    _check_coefficient(gamma, "gamma")
    _check_coefficient(lam, "lam")
    if not isinstance(values, torch.Tensor) or tuple(values.shape) != tuple(rewards.shape):
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values)
        raise ValueError(
            f"values must have the shape of rewards {tuple(rewards.shape)}; got {shape}"
        )
    values = values.detach().to(dtype=rewards.dtype, device=rewards.device)
    # V(s_{t+1}) with V(s_T) = 0 after the last step.
    next_values = torch.cat([values[..., 1:], torch.zeros_like(values[..., :1])], dim=-1)
    residuals = rewards + gamma * next_values - values
    return _discounted_future_sums(residuals, gamma * lam)


def _discounted_future_sums(terms: torch.Tensor, coefficient: float) -> torch.Tensor:
    """``out[..., t] = sum_{k >= t} coefficient^(k - t) terms[..., k]`` via a triangular matrix.

    Powers are taken of non-negative offsets only, so ``coefficient = 0`` gives ``0**0 = 1`` on
    the diagonal and no ``0**(-1)`` infinities below it; no ``gamma^-t`` rescaling that could
    overflow for long horizons.
    """
    steps = torch.arange(terms.shape[-1], device=terms.device)
    offsets = steps.unsqueeze(0) - steps.unsqueeze(1)  # [t, k] = k - t
    base = torch.as_tensor(coefficient, dtype=terms.dtype, device=terms.device)
    powers = torch.pow(base, offsets.clamp(min=0).to(terms.dtype))
    discount = torch.where(offsets >= 0, powers, torch.zeros_like(powers))
    return terms @ discount.T


def _check_rewards(rewards: torch.Tensor) -> None:
    if not isinstance(rewards, torch.Tensor) or not rewards.is_floating_point():
        raise ValueError(f"rewards must be a floating-point tensor; got {type(rewards)}")
    if rewards.ndim < 2:
        raise ValueError(
            f"rewards must have shape (B, T), optionally with leading batch dimensions; got "
            f"{tuple(rewards.shape)}"
        )


def _check_coefficient(value: float, name: str) -> None:
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (is_number and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}")
