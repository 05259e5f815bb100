"""Linear feature baseline (Duan et al. 2016, "Benchmarking deep RL for continuous control").

The peer's inner-loop policy-gradient step in Meta-MAPG (papers 000/001, as in the authors' code)
uses a state-time baseline refit on every batch: features ``[obs, obs**2, t/100, (t/100)**2,
(t/100)**3, 1]`` per step, one weight vector fit by least squares with ridge 1e-5 against the
discounted return-to-go (:func:`rllib_meta.core.advantages.discounted_returns`).

The baseline is a constant of the gradient estimator: nothing here is differentiable (inputs are
detached and the fit runs under ``torch.no_grad``), so it can be fed to
:func:`rllib_meta.core.dice.dice_objective` inside ``create_graph=True`` inner loops without
adding terms to higher-order derivatives.
"""

from __future__ import annotations

import torch

__all__ = ["baseline_features", "linear_feature_baseline"]

# Time features use t / 100 as in Duan et al.'s implementation, keeping t^3 well scaled for
# horizons of a few hundred steps.
TIME_SCALE = 100.0
# Ridge retries: x10 each time the regularised solve fails or is non-finite (Duan et al.).
RIDGE_GROWTH = 10.0
MAX_RIDGE_ATTEMPTS = 5


def baseline_features(observations: torch.Tensor) -> torch.Tensor:
    """Per-step features ``[obs, obs**2, t/100, (t/100)**2, (t/100)**3, 1]``: ``(B, T, 2D + 4)``.

    ``t`` is the time index ``0..T-1`` within each trajectory of ``observations`` ``(B, T, D)``.
    """
    _check_observations(observations)
    batch, horizon, _ = observations.shape
    time = torch.arange(horizon, dtype=observations.dtype, device=observations.device)
    time = (time / TIME_SCALE).reshape(1, horizon, 1).expand(batch, horizon, 1)
    ones = torch.ones_like(time)
    return torch.cat(
        [observations, observations**2, time, time**2, time**3, ones],
        dim=-1,
    )


@torch.no_grad()
def linear_feature_baseline(
    observations: torch.Tensor, returns: torch.Tensor, ridge: float = 1e-5
) -> torch.Tensor:
    """Fitted baseline values ``F w`` of shape ``(B, T)``, with no gradient.

    Solves ``(F^T F + ridge I) w = F^T y`` over all ``B * T`` steps at once (one weight vector for
    the batch), with ``F`` from :func:`baseline_features` and ``y = returns`` (discounted
    return-to-go, ``(B, T)``). If the solve fails or gives non-finite weights the ridge is
    multiplied by 10, up to ``MAX_RIDGE_ATTEMPTS`` tries. The fit runs in float64 (``F^T F`` of
    one-hot observations is rank-deficient and badly conditioned in float32); the result has the
    dtype of ``observations``.

    Raises:
        ValueError: on mismatched shapes or a ridge that is not positive.
        RuntimeError: if no attempt gives finite weights.
    """
    _check_observations(observations)
    if tuple(returns.shape) != tuple(observations.shape[:2]):
        raise ValueError(
            f"returns must have shape (B, T) = {tuple(observations.shape[:2])}; "
            f"got {tuple(returns.shape)}"
        )
    if not ridge > 0.0:  # a zero ridge could not grow on retries
        raise ValueError(f"ridge must be > 0; got {ridge!r}")
    features = baseline_features(observations.detach().to(torch.float64))
    flat_features = features.reshape(-1, features.shape[-1])
    targets = returns.detach().to(device=features.device, dtype=torch.float64).reshape(-1)
    weights = _ridge_solve(flat_features, targets, ridge)
    values = (flat_features @ weights).reshape(returns.shape)
    return values.to(observations.dtype)


def _ridge_solve(features: torch.Tensor, targets: torch.Tensor, ridge: float) -> torch.Tensor:
    """``(F^T F + ridge I)^{-1} F^T y``, retrying with a larger ridge on failure."""
    gram = features.T @ features
    moment = features.T @ targets
    identity = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    for attempt in range(MAX_RIDGE_ATTEMPTS):
        penalty = ridge * RIDGE_GROWTH**attempt
        # solve_ex reports a singular system through `info` instead of raising.
        weights, info = torch.linalg.solve_ex(gram + penalty * identity, moment)
        if int(info) == 0 and bool(torch.isfinite(weights).all()):
            return weights
    raise RuntimeError(
        f"linear feature baseline: no finite least-squares solution with ridge up to "
        f"{ridge * RIDGE_GROWTH ** (MAX_RIDGE_ATTEMPTS - 1):.1e}"
    )


def _check_observations(observations: torch.Tensor) -> None:
    if not isinstance(observations, torch.Tensor) or not observations.is_floating_point():
        raise ValueError(f"observations must be a floating-point tensor; got {type(observations)}")
    if observations.ndim != 3:
        raise ValueError(f"observations must have shape (B, T, D); got {tuple(observations.shape)}")
