"""The model-free losses: values and gradients on cases small enough to do by hand."""

import math

import pytest
import torch

from rllib_meta.core.policy_gradients import (
    ppo_clip_loss,
    reinforce_loss,
    squared_error_loss,
    standardized,
)


def test_reinforce_gradient_is_the_return_weighted_score_averaged_over_samples():
    logits = torch.tensor([0.3, -0.2], requires_grad=True)
    actions = torch.tensor([0, 1, 1])
    returns = torch.tensor([2.0, -1.0, 3.0])
    log_probs = torch.log_softmax(logits, dim=-1)[actions]
    reinforce_loss(log_probs, returns).backward()
    p = torch.softmax(logits.detach(), dim=-1)
    # d log pi(a) / d logits = one_hot(a) - p.
    scores = torch.nn.functional.one_hot(actions, 2).float() - p
    expected = -(returns[:, None] * scores).mean(dim=0)
    assert torch.allclose(logits.grad, expected)


def test_reinforce_passes_no_gradient_into_the_returns():
    returns = torch.tensor([1.0, 2.0], requires_grad=True)
    log_probs = torch.tensor([-0.5, -0.1], requires_grad=True)
    reinforce_loss(log_probs, returns).backward()
    assert returns.grad is None
    assert torch.allclose(log_probs.grad, -returns.detach() / 2)


@pytest.mark.parametrize(
    ("ratio", "advantage", "expected"),
    [
        (1.1, 1.0, -1.1),  # inside the clip range: the plain surrogate
        (1.5, 1.0, -1.2),  # positive advantage: capped at 1 + eps
        (0.5, 1.0, -0.5),  # min keeps the smaller unclipped term
        (0.5, -1.0, 0.8),  # negative advantage: floored at 1 - eps
        (1.5, -1.0, 1.5),  # the pessimistic unclipped term
    ],
)
def test_ppo_clip_loss_takes_the_pessimistic_term(ratio, advantage, expected):
    old = torch.tensor([0.0])
    new = torch.tensor([math.log(ratio)])
    loss = ppo_clip_loss(new, old, torch.tensor([advantage]), clip=0.2)
    assert loss.item() == pytest.approx(expected)


def test_ppo_clip_loss_has_no_gradient_once_clipped():
    new = torch.tensor([math.log(1.5)], requires_grad=True)
    ppo_clip_loss(new, torch.tensor([0.0]), torch.tensor([1.0]), clip=0.2).backward()
    assert new.grad.item() == 0.0


def test_squared_error_loss_and_standardized():
    loss = squared_error_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0]))
    assert loss.item() == pytest.approx(2.5)
    values = standardized(torch.tensor([1.0, 2.0, 3.0]))
    assert torch.allclose(values, torch.tensor([-1.2247, 0.0, 1.2247]), atol=1e-4)
