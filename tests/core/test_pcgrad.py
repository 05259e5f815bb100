"""PCGrad (Yu et al. 2020) and the gradient flattening helpers."""

from __future__ import annotations

import pytest
import torch

from rllib_meta.core.pcgrad import _visiting_orders, flatten_gradients, pcgrad, unflatten_like

F64 = torch.float64


def _project(vector: torch.Tensor, others: list[torch.Tensor]) -> torch.Tensor:
    """Yu et al.'s inner loop for one task: remove each conflicting component in turn."""
    projected = vector.clone()
    for other in others:
        dot = torch.dot(projected, other)
        if dot < 0:
            projected = projected - dot / torch.dot(other, other) * other
    return projected


def _reference_pcgrad(gradients: torch.Tensor, orders: list[list[int]]) -> torch.Tensor:
    """Plain double loop of Yu et al.'s Algorithm 1 with given visiting orders."""
    return sum(
        _project(gradients[i], [gradients[j] for j in order]) for i, order in enumerate(orders)
    )


def test_two_conflicting_gradients_hand_computed():
    gradients = torch.tensor([[1.0, 0.0], [-1.0, 1.0]], dtype=F64)
    # g1 . g2 = -1. g1 - (-1 / 2) g2 = (0.5, 0.5); g2 - (-1 / 1) g1 = (0, 1). Sum (0.5, 1.5).
    torch.testing.assert_close(pcgrad(gradients), torch.tensor([0.5, 1.5], dtype=F64))


def test_non_conflicting_gradients_are_summed_unchanged():
    gradients = torch.tensor([[1.0, 2.0, 0.0], [0.5, 0.0, 1.0], [0.0, 1.0, 3.0]], dtype=F64)
    generator = torch.Generator().manual_seed(0)
    torch.testing.assert_close(pcgrad(gradients, generator), gradients.sum(0))


def test_each_projected_gradient_is_non_negative_against_the_other_original():
    """N = 2: after the one projection each g_i has a non-negative dot with g_j."""
    generator = torch.Generator().manual_seed(2)
    conflicts = 0
    for _ in range(50):
        g = torch.randn(2, 5, generator=generator, dtype=F64)
        conflicts += int(torch.dot(g[0], g[1]) < 0)
        total = pcgrad(g)
        # With N = 2 there is one order: each g_i is projected against the other only.
        p0, p1 = _project(g[0], [g[1]]), _project(g[1], [g[0]])
        torch.testing.assert_close(total, p0 + p1)
        assert float(torch.dot(p0, g[1])) >= -1e-12
        assert float(torch.dot(p1, g[0])) >= -1e-12
    assert conflicts > 10  # the loop exercised the projection


def test_matches_the_reference_loop_with_the_same_orders():
    gradients = torch.randn(5, 4, generator=torch.Generator().manual_seed(3), dtype=F64)
    orders = _visiting_orders(5, torch.Generator().manual_seed(7))
    assert sorted(orders[2].tolist()) == [0, 1, 3, 4]  # every other task once, never itself
    expected = _reference_pcgrad(gradients, orders.tolist())
    torch.testing.assert_close(pcgrad(gradients, torch.Generator().manual_seed(7)), expected)


def test_three_tasks_follow_some_random_order_and_project_onto_the_originals():
    gradients = torch.tensor([[1.0, 0.0], [-1.0, 0.2], [-0.2, -1.0]], dtype=F64)
    valid = torch.stack([_reference_pcgrad(gradients, orders) for orders in _all_orders()])
    # Projecting onto already projected gradients (a classic slip) lands elsewhere here.
    assert not _close_to_any(_projected_onto_projected(gradients), valid)
    seen = set()
    for seed in range(16):
        result = pcgrad(gradients, torch.Generator().manual_seed(seed))
        assert _close_to_any(result, valid)
        seen.add(tuple(round(value, 9) for value in result.tolist()))
    assert len(seen) > 1  # the visiting order is random and matters for this example


def _all_orders() -> list[list[list[int]]]:
    """Every combination of per-task visiting orders for N = 3 (2 per task, 8 in all)."""
    per_task = [[[1, 2], [2, 1]], [[0, 2], [2, 0]], [[0, 1], [1, 0]]]
    return [[a, b, c] for a in per_task[0] for b in per_task[1] for c in per_task[2]]


def _projected_onto_projected(gradients: torch.Tensor) -> torch.Tensor:
    """Wrong variant: tasks projected in place, later ones see earlier projections."""
    current = gradients.clone()
    for i in range(current.shape[0]):
        for j in range(current.shape[0]):
            dot = torch.dot(current[i], current[j])
            if i != j and dot < 0:
                current[i] = current[i] - dot / torch.dot(current[j], current[j]) * current[j]
    return current.sum(0)


def _close_to_any(vector: torch.Tensor, candidates: torch.Tensor) -> bool:
    return bool(((candidates - vector).abs().max(dim=1).values < 1e-9).any())


def test_single_task_is_identity():
    gradient = torch.tensor([[0.3, -2.0, 5.0]], dtype=F64)
    torch.testing.assert_close(pcgrad(gradient), gradient[0])


def test_zero_gradient_is_ignored_without_nans():
    gradients = torch.tensor([[1.0, -1.0], [0.0, 0.0], [2.0, 3.0]], dtype=F64, requires_grad=True)
    total = pcgrad(gradients, torch.Generator().manual_seed(0))
    assert torch.isfinite(total).all()
    (grad,) = torch.autograd.grad(total.sum(), gradients)
    assert torch.isfinite(grad).all()
    expected = _reference_pcgrad(gradients.detach()[[0, 2]], [[1], [0]])
    torch.testing.assert_close(total.detach(), expected)


def test_seeded_generator_is_deterministic_and_keeps_dtype():
    generator = torch.Generator().manual_seed(4)
    gradients = torch.randn(6, 8, generator=generator)
    first = pcgrad(gradients, torch.Generator().manual_seed(99))
    second = pcgrad(gradients, torch.Generator().manual_seed(99))
    assert first.dtype == torch.float32 and first.shape == (8,)
    assert torch.equal(first, second)


def test_flatten_unflatten_round_trip_with_none():
    params = [torch.zeros(2, 3), torch.zeros(4), torch.zeros(1, 1, 2)]
    grads = [torch.arange(6.0).reshape(2, 3), None, torch.tensor([[[7.0, 8.0]]])]
    flat = flatten_gradients(grads, params)
    torch.testing.assert_close(flat, torch.tensor([0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 7, 8.0]))
    back = unflatten_like(flat, params)
    assert [tuple(t.shape) for t in back] == [(2, 3), (4,), (1, 1, 2)]
    torch.testing.assert_close(back[0], grads[0])
    torch.testing.assert_close(back[1], torch.zeros(4))
    torch.testing.assert_close(back[2], grads[2])
    torch.testing.assert_close(flatten_gradients(back, params), flat)


def test_helpers_reject_mismatches():
    params = [torch.zeros(2), torch.zeros(3)]
    with pytest.raises(ValueError, match="gradients for"):
        flatten_gradients([None], params)
    with pytest.raises(ValueError, match="shape"):
        flatten_gradients([torch.zeros(3), None], params)
    with pytest.raises(ValueError, match="5 entries"):
        unflatten_like(torch.zeros(4), params)
    with pytest.raises(ValueError, match=r"\(N, P\)"):
        pcgrad(torch.zeros(3))
