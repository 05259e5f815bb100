"""DiCE: the infinitely differentiable Monte-Carlo estimator (Foerster et al. 2018).

The DiCE objective (Foerster et al. 2018, Eq. 4 specialised to a trajectory) is

    J = E[ sum_t gamma^t * box(W_{<=t}) * r_t ],    box(x) = exp(x - stop_gradient(x)),

where ``W_{<=t}`` is the sum of the log-probabilities of every stochastic node that reward ``r_t``
depends on (all actions up to ``t``, of every agent whose parameters we may differentiate). Its
value is the Monte-Carlo return, and differentiating it ``n`` times gives an unbiased estimator of
the ``n``-th derivative of the expected return; this is what lets Meta-MAPG and LOLA-DiCE
differentiate through a peer's policy-gradient step (``create_graph=True``).

The optional baseline term is the one of Mao et al. (2019), "A baseline for any order gradient
estimation in stochastic computation graphs":

    B = sum_t gamma^t * (1 - box(w_t)) * box(W_{<t}) * b_t
      = sum_t gamma^t * (box(W_{<t}) - box(W_{<=t})) * b_t

with ``w_t`` the log-probabilities of step ``t``'s nodes and ``b_t`` a baseline that does not
depend on step ``t``'s actions. ``B`` has value 0 and zero expected derivative of every order. Its
first derivative equals, sample by sample, that of DiCE's original first-order baseline
``sum_t gamma^t (1 - box(w_t)) b_t`` (Foerster et al. 2018, section 4; the Meta-MAPG reference
code); the extra ``box(W_{<t})`` factor makes the baseline also reduce the variance of the
higher-order terms. ``first_order_baseline=True`` selects the original term.
"""

from __future__ import annotations

import numbers

import torch

__all__ = ["dice_objective", "magic_box"]


def magic_box(x: torch.Tensor) -> torch.Tensor:
    """DiCE's MagicBox operator ``exp(x - stop_gradient(x))`` (Foerster et al. 2018, Eq. 3).

    Evaluates to exactly 1 (``x - x.detach()`` is exactly 0 in the forward pass) while
    ``d box(x) = box(x) * dx``, so repeated differentiation keeps producing score-function terms.
    """
    return torch.exp(x - x.detach())


def dice_objective(
    log_probs: torch.Tensor,
    rewards: torch.Tensor,
    gamma: float,
    baseline: torch.Tensor | None = None,
    prior_log_prob: torch.Tensor | float | None = None,
    *,
    first_order_baseline: bool = False,
) -> torch.Tensor:
    """Batch-mean DiCE objective (to maximise) of ``B`` trajectories of ``T`` steps: a scalar,
    or one per leading index for inputs ``(..., B, T)`` (independent batches, for instance the
    chains of a Meta-MAPG meta-batch).

    ``mean_b sum_t gamma^t * box(prior_b + sum_{t' <= t} log_probs[b, t']) * rewards[b, t]``
    (Foerster et al. 2018, Eq. 4), plus the baseline term of Mao et al. (2019) when ``baseline``
    is given (see the module docstring).

    Args:
        log_probs: ``(B, T)``; ``log_probs[b, t]`` is the summed log-probability of every
            stochastic node of step ``t`` (e.g. the joint log-probability of all agents' actions,
            which is what gives the peer-learning term of Meta-MAPG / LOLA).
        rewards: ``(B, T)`` rewards of the agent whose objective this is. Cast to ``log_probs``'
            dtype and device; not detached, so a pathwise dependence on parameters is kept.
        gamma: Discount factor in ``[0, 1]``; step ``t`` is weighted by ``gamma**t``.
        baseline: Optional ``(B, T)`` baseline values ``b_t`` (e.g. the value of the state at
            step ``t``, as return-to-go from ``t``); detached, since a baseline must be a constant
            of the estimator. It must not depend on the actions of step ``t`` or later.
        prior_log_prob: Optional ``(B,)`` or scalar log-probability of earlier stochastic nodes
            that every reward depends on; added inside every magic box.
        first_order_baseline: Use DiCE's original baseline term ``(1 - box(w_t)) b_t``, exact in
            expectation at every order but variance-reducing only for first derivatives.

    Raises:
        ValueError: on shapes that do not match the description above or a bad ``gamma``.
    """
    _check_inputs(log_probs, rewards, gamma)
    rewards = rewards.to(dtype=log_probs.dtype, device=log_probs.device)
    prior = _prior(prior_log_prob, log_probs)
    baseline_values = None if baseline is None else _baseline_values(baseline, log_probs)
    discounts = _discounts(gamma, log_probs)
    # W_{<=t}: every reward depends on all stochastic nodes up to and including its own step.
    inclusive = torch.cumsum(log_probs, dim=-1)
    if prior is not None:
        inclusive = inclusive + prior.unsqueeze(-1)
    per_step = discounts * magic_box(inclusive) * rewards
    if baseline_values is not None:
        weights = _baseline_weights(log_probs, inclusive, first_order_baseline)
        per_step = per_step + discounts * weights * baseline_values
    return per_step.sum(dim=-1).mean(dim=-1)


def _baseline_weights(
    log_probs: torch.Tensor, inclusive: torch.Tensor, first_order: bool
) -> torch.Tensor:
    """``(1 - box(w_t))`` (DiCE) or ``box(W_{<t}) - box(W_{<=t})`` (Mao et al. 2019): value 0."""
    if first_order:
        return 1.0 - magic_box(log_probs)
    # W_{<t} = W_{<=t} - w_t; round-off is harmless because box() only keeps the gradient.
    exclusive = inclusive - log_probs
    return magic_box(exclusive) - magic_box(inclusive)


def _baseline_values(baseline: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if not isinstance(baseline, torch.Tensor) or tuple(baseline.shape) != tuple(like.shape):
        shape = tuple(baseline.shape) if isinstance(baseline, torch.Tensor) else type(baseline)
        raise ValueError(
            f"baseline must be a tensor of shape (B, T) = {tuple(like.shape)}; got {shape}"
        )
    return baseline.detach().to(dtype=like.dtype, device=like.device)


def _prior(prior_log_prob: torch.Tensor | float | None, like: torch.Tensor) -> torch.Tensor | None:
    """``prior_log_prob`` as a ``(..., B)`` tensor (broadcast from a scalar), or None."""
    if prior_log_prob is None:
        return None
    if isinstance(prior_log_prob, torch.Tensor):
        prior = prior_log_prob.to(dtype=like.dtype, device=like.device)  # keeps its graph
    else:
        prior = torch.as_tensor(prior_log_prob, dtype=like.dtype, device=like.device)
    if prior.ndim == 0:
        return prior.expand(like.shape[:-1])
    if tuple(prior.shape) != tuple(like.shape[:-1]):
        raise ValueError(
            f"prior_log_prob must be a scalar or have shape (B,) = {tuple(like.shape[:-1])}; "
            f"got {tuple(prior.shape)}"
        )
    return prior


def _discounts(gamma: float, like: torch.Tensor) -> torch.Tensor:
    """``gamma**t`` for ``t = 0..T-1`` (``0**0 = 1``) in ``like``'s dtype and device."""
    steps = torch.arange(like.shape[-1], dtype=like.dtype, device=like.device)
    return torch.pow(torch.as_tensor(gamma, dtype=like.dtype, device=like.device), steps)


def _check_inputs(log_probs: torch.Tensor, rewards: torch.Tensor, gamma: float) -> None:
    if not isinstance(log_probs, torch.Tensor) or not log_probs.is_floating_point():
        raise ValueError(f"log_probs must be a floating-point tensor; got {type(log_probs)}")
    if log_probs.ndim < 2:
        raise ValueError(
            f"log_probs must have shape (B, T), optionally with leading batch dimensions; got "
            f"{tuple(log_probs.shape)}"
        )
    if not isinstance(rewards, torch.Tensor) or tuple(rewards.shape) != tuple(log_probs.shape):
        shape = tuple(rewards.shape) if isinstance(rewards, torch.Tensor) else type(rewards)
        raise ValueError(
            f"rewards must be a tensor with the shape of log_probs {tuple(log_probs.shape)}; "
            f"got {shape}"
        )
    is_number = isinstance(gamma, numbers.Real) and not isinstance(gamma, bool)
    if not (is_number and 0.0 <= gamma <= 1.0):
        raise ValueError(f"gamma must be a number in [0, 1]; got {gamma!r}")
