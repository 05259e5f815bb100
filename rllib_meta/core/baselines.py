"""Linear feature baseline (Duan et al. 2016, "Benchmarking deep RL for continuous control").

The peer's inner-loop policy-gradient step in Meta-MAPG (papers 000/001, as in the authors' code)
uses a state-time baseline refit on every batch: features ``[obs, obs**2, t/100, (t/100)**2,
(t/100)**3, 1]`` per step, one weight vector fit by least squares with ridge 1e-5 against the
discounted return-to-go (:func:`rllib_meta.core.advantages.discounted_returns`).

Leading batch dimensions ``(..., B, T, D)`` (one per Meta-MAPG chain of a meta-batch) get one fit
each, as if fit one by one.

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

    ``t`` is the time index ``0..T-1`` within each trajectory of ``observations`` ``(B, T, D)``
    (or ``(..., B, T, D)``).
    """
    _check_observations(observations)
    horizon = observations.shape[-2]
    time = torch.arange(horizon, dtype=observations.dtype, device=observations.device)
    time = (time / TIME_SCALE).reshape(horizon, 1).expand(*observations.shape[:-1], 1)
    ones = torch.ones_like(time)
    return torch.cat(
        [observations, observations**2, time, time**2, time**3, ones],
        dim=-1,
    )


@torch.no_grad()
def linear_feature_baseline(
    observations: torch.Tensor, returns: torch.Tensor, ridge: float = 1e-5
) -> torch.Tensor:
    """Fitted baseline values ``F w`` of shape ``(B, T)`` (``(..., B, T)``: one fit per leading
    index), with no gradient.

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
    if tuple(returns.shape) != tuple(observations.shape[:-1]):
        raise ValueError(
            f"returns must have shape (B, T) = {tuple(observations.shape[:-1])}; "
            f"got {tuple(returns.shape)}"
        )
    if not ridge > 0.0:  # a zero ridge could not grow on retries
        raise ValueError(f"ridge must be > 0; got {ridge!r}")
    features = baseline_features(observations.detach().to(torch.float64))
    leading = features.shape[:-3]  # one independent fit per leading index
    flat_features = features.reshape(*leading, -1, features.shape[-1])
    targets = returns.detach().to(device=features.device, dtype=torch.float64)
    targets = targets.reshape(*leading, -1)
    weights = _ridge_solve(flat_features, targets, ridge)
    values = _times(flat_features, weights).reshape(returns.shape)
    return values.to(observations.dtype)


def _times(matrix: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    """``matrix @ vector`` for ``(..., N, F)`` and ``(..., F)``: ``(..., N)``."""
    if vector.ndim == 1:
        return matrix @ vector
    return (matrix @ vector.unsqueeze(-1)).squeeze(-1)


def _ridge_solve(features: torch.Tensor, targets: torch.Tensor, ridge: float) -> torch.Tensor:
    """``(F^T F + ridge I)^{-1} F^T y``, retrying with a larger ridge on failure; for batched
    ``(..., N, F)`` features each fit retries on its own (the result of each is that of
    fitting it alone)."""
    gram = features.mT @ features
    moment = _times(features.mT, targets)
    identity = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    weights, done = None, None
    for attempt in range(MAX_RIDGE_ATTEMPTS):
        penalty = ridge * RIDGE_GROWTH**attempt
        # solve_ex reports a singular system through `info` instead of raising.
        solved, info = torch.linalg.solve_ex(gram + penalty * identity, moment)
        ok = (info == 0) & torch.isfinite(solved).all(-1)
        if weights is None:
            weights, done = solved, ok
        else:  # keep the first finite solution of every fit
            weights = torch.where(done.unsqueeze(-1), weights, solved)
            done = done | ok
        if bool(done.all()):
            return weights
    raise RuntimeError(
        f"linear feature baseline: no finite least-squares solution with ridge up to "
        f"{ridge * RIDGE_GROWTH ** (MAX_RIDGE_ATTEMPTS - 1):.1e}"
    )


def _check_observations(observations: torch.Tensor) -> None:
    if not isinstance(observations, torch.Tensor) or not observations.is_floating_point():
        raise ValueError(f"observations must be a floating-point tensor; got {type(observations)}")
    if observations.ndim < 3:
        raise ValueError(
            "observations must have shape (B, T, D), optionally with leading batch dimensions; "
            f"got {tuple(observations.shape)}"
        )
