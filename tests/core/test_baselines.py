"""Linear feature baseline (Duan et al. 2016) as used for the Meta-MAPG peer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rllib_meta.core.baselines import baseline_features, linear_feature_baseline


def _random_batch(seed: int, batch: int = 4, horizon: int = 50, dim: int = 3, dtype=torch.float64):
    # 50 steps: t/100 up to 0.49, so the time features are not nearly collinear and the least
    # squares problem is well conditioned enough for tight comparisons.
    generator = torch.Generator().manual_seed(seed)
    observations = torch.randn(batch, horizon, dim, generator=generator, dtype=dtype)
    returns = torch.randn(batch, horizon, generator=generator, dtype=dtype)
    return observations, returns


def test_features_on_a_tiny_case():
    observations = torch.tensor([[[1.0, -2.0], [3.0, 0.5]]], dtype=torch.float64)  # (1, 2, 2)
    expected = torch.tensor(
        [
            [
                [1.0, -2.0, 1.0, 4.0, 0.0, 0.0, 0.0, 1.0],
                [3.0, 0.5, 9.0, 0.25, 0.01, 1e-4, 1e-6, 1.0],
            ]
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(baseline_features(observations), expected, rtol=0, atol=1e-15)


def test_fit_equals_numpy_ridge_solve_and_lstsq():
    observations, returns = _random_batch(seed=0)
    features = baseline_features(observations).reshape(-1, 10).numpy()
    targets = returns.reshape(-1).numpy()
    ridge = 1e-3
    weights = np.linalg.solve(features.T @ features + ridge * np.eye(10), features.T @ targets)
    values = linear_feature_baseline(observations, returns, ridge=ridge)
    np.testing.assert_allclose(
        values.numpy().reshape(-1), features @ weights, rtol=1e-10, atol=1e-12
    )
    # A tiny ridge on full-rank features is ordinary least squares.
    least_squares = np.linalg.lstsq(features, targets, rcond=None)[0]
    tiny = linear_feature_baseline(observations, returns, ridge=1e-12)
    np.testing.assert_allclose(tiny.numpy().reshape(-1), features @ least_squares, atol=1e-8)


def test_exact_linear_target_is_reproduced():
    observations, _ = _random_batch(seed=1)
    weights = torch.linspace(-1.0, 2.0, 10, dtype=torch.float64)
    target = baseline_features(observations) @ weights
    torch.testing.assert_close(
        linear_feature_baseline(observations, target, ridge=1e-10), target, rtol=0, atol=1e-7
    )


def test_one_weight_vector_is_shared_by_the_whole_batch():
    """Two copies of a batch fit exactly as one: the fit pools all B * T steps."""
    observations, returns = _random_batch(seed=2)
    values = linear_feature_baseline(observations, returns, ridge=1e-12)
    doubled = linear_feature_baseline(
        torch.cat([observations, observations]), torch.cat([returns, returns]), ridge=1e-12
    )
    torch.testing.assert_close(doubled, torch.cat([values, values]))


def test_output_has_no_gradient_and_keeps_dtype():
    for dtype in (torch.float32, torch.float64):
        observations, returns = _random_batch(seed=3, dtype=dtype)
        observations.requires_grad_()
        returns = (returns * 2).requires_grad_()
        values = linear_feature_baseline(observations, returns)
        assert values.shape == returns.shape and values.dtype == dtype
        assert not values.requires_grad and values.grad_fn is None


def test_rank_deficient_one_hot_observations_stay_finite_in_float32():
    """One-hot obs make obs and obs**2 identical columns: the ridge keeps the solve finite."""
    generator = torch.Generator().manual_seed(4)
    states = torch.randint(0, 5, (64, 20), generator=generator)
    observations = torch.nn.functional.one_hot(states, 5).to(torch.float32)
    state_values = torch.tensor([0.0, 1.0, -1.0, 2.0, 0.5])
    returns = state_values[states]  # a function of the state only: representable exactly
    values = linear_feature_baseline(observations, returns)
    assert torch.isfinite(values).all()
    torch.testing.assert_close(values, returns, rtol=0, atol=1e-4)


def test_failed_solve_retries_with_a_larger_ridge(monkeypatch):
    observations, returns = _random_batch(seed=5)
    real_solve = torch.linalg.solve_ex
    penalties = []

    def failing_first(matrix, rhs):
        penalties.append(float(matrix[-1, -1]))
        weights, info = real_solve(matrix, rhs)
        if len(penalties) == 1:
            return torch.full_like(weights, float("nan")), info
        return weights, info

    monkeypatch.setattr(torch.linalg, "solve_ex", failing_first)
    values = linear_feature_baseline(observations, returns, ridge=1e-3)
    assert len(penalties) == 2 and torch.isfinite(values).all()
    # The constant feature's diagonal entry is B * T + ridge: the second try used 10x the ridge.
    count = observations.shape[0] * observations.shape[1]
    assert penalties[1] - count == pytest.approx(10 * (penalties[0] - count), rel=1e-6)


@pytest.mark.parametrize(
    ("observations", "returns", "ridge", "match"),
    [
        (torch.zeros(2, 3), torch.zeros(2, 3), 1e-5, r"\(B, T, D\)"),
        (torch.zeros(2, 3, 1), torch.zeros(2, 4), 1e-5, "returns must have shape"),
        (torch.zeros(2, 3, 1, dtype=torch.long), torch.zeros(2, 3), 1e-5, "floating-point"),
        (torch.zeros(2, 3, 1), torch.zeros(2, 3), 0.0, "ridge"),
    ],
)
def test_bad_inputs_raise_value_error(observations, returns, ridge, match):
    with pytest.raises(ValueError, match=match):
        linear_feature_baseline(observations, returns, ridge=ridge)
