"""Lambda-returns and the quantile Huber loss (paper 004, Algorithm 1; Dabney et al. 2018)."""

import pytest
import torch

from rllib_meta.core.quantile import (
    lambda_returns,
    pairwise_quantile_huber_loss,
    quantile_huber_loss,
    quantile_midpoints,
)


def test_lambda_returns_by_hand():
    rewards = torch.tensor([[1.0], [2.0]])  # r_0, r_1, one element, M = 1
    next_values = torch.tensor([[10.0], [20.0]])  # U_bar(x_1), U_bar(x_2)
    g, lam = 0.5, 0.25
    targets = lambda_returns(rewards, next_values, torch.tensor(g), lam)
    y1 = (1 - g) * 2.0 + g * ((1 - lam) * 20.0 + lam * 20.0)
    y0 = (1 - g) * 1.0 + g * ((1 - lam) * 10.0 + lam * y1)
    assert targets.flatten().tolist() == pytest.approx([y0, y1])


def test_lambda_one_is_the_normalised_discounted_return_bootstrapped_at_the_end():
    rewards = torch.tensor([1.0, -1.0, 3.0]).reshape(3, 1)
    next_values = torch.tensor([100.0, 100.0, 5.0]).reshape(3, 1)
    g = 0.9
    targets = lambda_returns(rewards, next_values, torch.tensor(g), lam=1.0)
    expected = (1 - g) * (1.0 - g * 1.0 + g**2 * 3.0) + g**3 * 5.0
    assert float(targets[0, 0]) == pytest.approx(expected)


def test_gamma_zero_targets_are_the_next_rewards():
    rewards = torch.randn(4, 3, 2, 1)
    targets = lambda_returns(rewards, torch.randn(4, 3, 2, 8), torch.zeros(3, 2, 1), 0.9)
    assert torch.allclose(targets, rewards.expand(4, 3, 2, 8))


def test_quantile_midpoints():
    assert quantile_midpoints(4).tolist() == [0.125, 0.375, 0.625, 0.875]


def test_quantile_regression_recovers_the_quantiles_of_a_distribution():
    torch.manual_seed(0)
    theta = torch.zeros(4, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=0.02)
    for _ in range(1500):
        samples = torch.rand(512, 4) * 2.0  # U(0, 2): quantile tau is 2 tau
        loss = quantile_huber_loss(theta.expand(512, 4), samples, kappa=1e-3)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert theta.detach().tolist() == pytest.approx([0.25, 0.75, 1.25, 1.75], abs=0.05)


def test_quantile_loss_gives_no_gradient_to_the_targets():
    predictions = torch.zeros(3, requires_grad=True)
    targets = torch.ones(3, requires_grad=True)
    quantile_huber_loss(predictions, targets).backward()
    assert targets.grad is None and predictions.grad is not None


@pytest.mark.parametrize("count", [1, 2, 5, 16, 64])
@pytest.mark.parametrize("kappa", [1.0, 0.3, 1e-3])
def test_sorted_loss_equals_the_pairwise_definition_in_value_and_gradient(count, kappa):
    generator = torch.Generator().manual_seed(count)
    predictions = torch.randn(3, 7, 2, count, generator=generator, dtype=torch.float64)
    targets = 1.5 * torch.randn(3, 7, 2, count, generator=generator, dtype=torch.float64) - 1.0
    # Ties: a target equal to a prediction, repeated targets, targets exactly kappa away.
    targets[0, 0, 0] = 0.25
    predictions[0, 0, 0, 0] = 0.25
    predictions[0, 0, 1, 0] = targets[0, 0, 1, -1] - kappa
    predictions[0, 1, 0, 0] = targets[0, 1, 0, 0] + kappa
    predictions.requires_grad_(True)
    fast = quantile_huber_loss(predictions, targets, kappa)
    reference = pairwise_quantile_huber_loss(predictions, targets, kappa)
    (fast_grad,) = torch.autograd.grad(fast, predictions)
    (reference_grad,) = torch.autograd.grad(reference, predictions)
    torch.testing.assert_close(fast, reference, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast_grad, reference_grad, rtol=1e-10, atol=1e-13)


def test_sorted_loss_passes_gradcheck_and_ignores_target_order():
    generator = torch.Generator().manual_seed(0)
    predictions = torch.randn(4, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    targets = torch.randn(4, 6, generator=generator, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: quantile_huber_loss(p, targets, 0.5), predictions)
    shuffled = targets[:, torch.randperm(6, generator=generator)]
    torch.testing.assert_close(
        quantile_huber_loss(predictions, shuffled), quantile_huber_loss(predictions, targets)
    )


def test_sorted_loss_is_exact_far_from_the_origin_in_float32():
    """Centring on the mean target keeps sum y^2 - 2 t sum y + n t^2 free of cancellation."""
    generator = torch.Generator().manual_seed(1)
    predictions = 1000.0 + torch.randn(256, 32, generator=generator)
    targets = 1000.0 + torch.randn(256, 32, generator=generator)
    predictions.requires_grad_(True)
    fast = quantile_huber_loss(predictions, targets)
    reference = pairwise_quantile_huber_loss(predictions, targets)
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-6)
