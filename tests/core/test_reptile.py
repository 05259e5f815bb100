"""The Reptile outer step (Nichol et al. 2018; paper 002, Eq. 6) against its closed form on a
quadratic objective, where K gradient steps have one too."""

import pytest
import torch

from rllib_meta.core.reptile import reptile_step, reptile_update_, snapshot

# L(theta) = 1/2 (theta - c)^T A (theta - c): a gradient step of size beta maps theta - c to
# (I - beta A)(theta - c), so U^K(theta) = c + (I - beta A)^K (theta - c).
A = torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 3.0]], dtype=torch.float64)
C = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)


def sgd_steps(theta: torch.nn.Parameter, beta: float, k: int) -> None:
    optimizer = torch.optim.SGD([theta], lr=beta)
    for _ in range(k):
        optimizer.zero_grad()
        residual = theta - C
        (0.5 * residual @ A @ residual).backward()
        optimizer.step()


@pytest.mark.parametrize(("alpha", "beta", "k"), [(1.0, 0.1, 10), (0.5, 0.1, 5), (0.25, 0.3, 3)])
def test_reptile_step_matches_the_closed_form_on_a_quadratic(alpha, beta, k):
    theta0 = torch.tensor([0.3, 0.7, -1.2], dtype=torch.float64)
    theta = torch.nn.Parameter(theta0.clone())
    initial = snapshot([theta])
    sgd_steps(theta, beta, k)
    contraction = torch.linalg.matrix_power(torch.eye(3, dtype=torch.float64) - beta * A, k)
    adapted = C + contraction @ (theta0 - C)
    torch.testing.assert_close(theta.detach(), adapted)  # U^K(theta)

    reptile_update_([theta], initial, alpha)
    expected = theta0 + alpha * (contraction - torch.eye(3, dtype=torch.float64)) @ (theta0 - C)
    torch.testing.assert_close(theta.detach(), expected, rtol=0, atol=1e-12)


def test_reptile_step_on_named_parameters_and_lists():
    initial = {"w": torch.tensor([[1.0, 2.0]]), "b": torch.tensor([0.0])}
    adapted = {"w": torch.tensor([[3.0, 0.0]]), "b": torch.tensor([4.0])}
    stepped = reptile_step(initial, adapted, 0.25)
    assert stepped["w"].tolist() == [[1.5, 1.5]] and stepped["b"].tolist() == [1.0]
    as_list = reptile_step(list(initial.values()), list(adapted.values()), 0.25)
    assert [t.tolist() for t in as_list] == [[[1.5, 1.5]], [1.0]]
    # alpha = 1 keeps U^K(theta) bit for bit (the paper's setting); alpha = 0 keeps theta.
    theta = torch.randn(5)
    moved = torch.randn(5)
    assert torch.equal(reptile_step([theta], [moved], 1.0)[0], moved)
    assert torch.equal(reptile_step([theta], [moved], 0.0)[0], theta)


def test_reptile_update_writes_the_live_parameters_in_place():
    module = torch.nn.Linear(3, 2)
    initial = {name: p.detach().clone() for name, p in module.named_parameters()}
    with torch.no_grad():
        for p in module.parameters():
            p.add_(1.0)
    reptile_update_(dict(module.named_parameters()), initial, 0.5)
    for name, p in module.named_parameters():
        torch.testing.assert_close(p.detach(), initial[name] + 0.5)
        assert p.grad is None


@pytest.mark.parametrize(
    ("initial", "adapted", "message"),
    [
        ({"a": torch.zeros(1)}, {"b": torch.zeros(1)}, "different parameters"),
        ([torch.zeros(1)], [torch.zeros(1), torch.zeros(1)], "must match"),
        ([torch.zeros(2)], [torch.zeros(3)], "shapes differ"),
        ({"a": torch.zeros(1)}, [torch.zeros(1)], "both be mappings"),
    ],
)
def test_mismatched_parameters_are_refused(initial, adapted, message):
    with pytest.raises(ValueError, match=message):
        reptile_step(initial, adapted, 0.5)
