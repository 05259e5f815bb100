"""Discounted returns and GAE (Schulman et al. 2016) on hand-computed and limiting cases."""

from __future__ import annotations

import pytest
import torch

from rllib_meta.core.advantages import discounted_returns, generalized_advantages

F64 = torch.float64


def _random(seed: int, shape=(4, 9), dtype=F64) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _loop_gae(rewards, values, gamma, lam):
    """Textbook backward recursion, for comparison only."""
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * running
        advantages[:, t] = running
    return advantages


def test_hand_computed_three_step_example():
    rewards = torch.tensor([[1.0, 2.0, 3.0]], dtype=F64)
    values = torch.tensor([[0.5, 1.0, 2.0]], dtype=F64)
    gamma, lam = 0.5, 0.5
    # R_2 = 3, R_1 = 2 + 0.5 * 3 = 3.5, R_0 = 1 + 0.5 * 3.5 = 2.75
    torch.testing.assert_close(
        discounted_returns(rewards, gamma), torch.tensor([[2.75, 3.5, 3.0]], dtype=F64)
    )
    # delta_2 = 3 - 2 = 1; delta_1 = 2 + 0.5 * 2 - 1 = 2; delta_0 = 1 + 0.5 * 1 - 0.5 = 1
    # A_2 = 1; A_1 = 2 + 0.25 * 1 = 2.25; A_0 = 1 + 0.25 * 2.25 = 1.5625
    torch.testing.assert_close(
        generalized_advantages(rewards, values, gamma, lam),
        torch.tensor([[1.5625, 2.25, 1.0]], dtype=F64),
    )


@pytest.mark.parametrize("gamma", [0.0, 0.9, 1.0])
def test_lambda_one_is_return_minus_value(gamma):
    rewards, values = _random(0), _random(1)
    torch.testing.assert_close(
        generalized_advantages(rewards, values, gamma, 1.0),
        discounted_returns(rewards, gamma) - values,
    )


@pytest.mark.parametrize("gamma", [0.0, 0.9, 1.0])
def test_lambda_zero_is_one_step_td_residual(gamma):
    rewards, values = _random(2), _random(3)
    next_values = torch.cat([values[:, 1:], torch.zeros(4, 1, dtype=F64)], dim=1)
    torch.testing.assert_close(
        generalized_advantages(rewards, values, gamma, 0.0),
        rewards + gamma * next_values - values,
    )


def test_gamma_one_returns_are_reverse_cumulative_sums():
    rewards = _random(4)
    torch.testing.assert_close(discounted_returns(rewards, 1.0), rewards.flip(1).cumsum(1).flip(1))


def test_gamma_zero_returns_are_the_rewards():
    rewards = _random(5)
    torch.testing.assert_close(discounted_returns(rewards, 0.0), rewards)


@pytest.mark.parametrize(("gamma", "lam"), [(0.96, 0.95), (1.0, 0.5), (0.5, 1.0)])
def test_matches_backward_recursion(gamma, lam):
    rewards, values = _random(6), _random(7)
    torch.testing.assert_close(
        generalized_advantages(rewards, values, gamma, lam),
        _loop_gae(rewards, values, gamma, lam),
    )


def test_rows_are_independent():
    rewards, values = _random(8), _random(9)
    full = generalized_advantages(rewards, values, 0.9, 0.95)
    for row in range(rewards.shape[0]):
        alone = generalized_advantages(rewards[row : row + 1], values[row : row + 1], 0.9, 0.95)
        torch.testing.assert_close(alone, full[row : row + 1])
    changed = rewards.clone()
    changed[0] += 10.0
    torch.testing.assert_close(generalized_advantages(changed, values, 0.9, 0.95)[1:], full[1:])


def test_long_horizon_is_finite_in_float32():
    rewards = torch.ones(2, 1000)
    returns = discounted_returns(rewards, 0.9)
    assert returns.dtype == torch.float32 and torch.isfinite(returns).all()
    torch.testing.assert_close(returns[:, 0], torch.full((2,), 10.0), rtol=1e-5, atol=0)
    torch.testing.assert_close(returns[:, -1], torch.ones(2))


def test_values_are_detached_and_rewards_keep_their_graph():
    rewards = _random(10).requires_grad_()
    values = _random(11).requires_grad_()
    advantages = generalized_advantages(rewards, values, 0.9, 0.95)
    (reward_gradient, value_gradient) = torch.autograd.grad(
        advantages.sum(), (rewards, values), allow_unused=True
    )
    assert value_gradient is None
    assert reward_gradient is not None
    returns = discounted_returns(rewards, 0.9)
    (gradient,) = torch.autograd.grad(returns[:, 0].sum(), rewards)
    torch.testing.assert_close(gradient[0], 0.9 ** torch.arange(9, dtype=F64))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: discounted_returns(torch.zeros(3), 0.9), r"\(B, T\)"),
        (lambda: discounted_returns(torch.zeros(2, 3), 1.1), "gamma"),
        (lambda: generalized_advantages(torch.zeros(2, 3), torch.zeros(2, 4), 0.9, 0.9), "values"),
        (lambda: generalized_advantages(torch.zeros(2, 3), torch.zeros(2, 3), 0.9, -0.1), "lam"),
        (lambda: discounted_returns(torch.zeros(2, 3, dtype=torch.long), 0.9), "floating"),
    ],
)
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
