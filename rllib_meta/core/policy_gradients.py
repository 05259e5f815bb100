"""Model-free policy losses on sampled batches: REINFORCE, PPO's clipped surrogate and a
least-squares action-value fit, each one equation.

They act on log-probabilities and returns the caller has already gathered, so the same three
lines serve any tabular or neural policy (paper 003 trains its leaders and followers with PG,
PPO and simple Q-learning; Table 1).
"""

from __future__ import annotations

import torch

__all__ = ["ppo_clip_loss", "reinforce_loss", "squared_error_loss", "standardized"]


def reinforce_loss(log_probs: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """REINFORCE (Williams 1992; Sutton et al. 1999): ``-mean(log pi(a|s) * G)``.

    Its gradient is the Monte-Carlo policy gradient ``-E[G grad log pi(a|s)]``; ``returns`` carry
    no gradient.
    """
    return -(log_probs * returns.detach()).mean()


def ppo_clip_loss(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    clip: float,
) -> torch.Tensor:
    """PPO's clipped surrogate (Schulman et al. 2017, Eq. 7), negated for minimisation:
    ``-mean(min(rho A, clip(rho, 1 - eps, 1 + eps) A))`` with ``rho = pi / pi_old``."""
    ratio = torch.exp(log_probs - old_log_probs.detach())
    advantages = advantages.detach()
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return -torch.minimum(ratio * advantages, clipped * advantages).mean()


def squared_error_loss(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``mean((Q - y)^2) / 2``: the regression step of (simple) Q-learning (Mnih et al. 2015)."""
    return 0.5 * (predictions - targets.detach()).pow(2).mean()


def standardized(values: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``(x - mean) / (std + eps)`` over the whole batch (PPO's advantage normalisation)."""
    return (values - values.mean()) / (values.std(unbiased=False) + eps)
