"""Learning rules (paper 004 App. B) against closed forms and finite differences."""

import math

import pytest
import torch

from envs.differentiable.games import BilinearZeroSum, ExactIPD, LogisticGame, naive_growth_factor
from rllib_meta.core.learning_rules import (
    cola_consistency_loss,
    hola_gradient,
    learning_step,
    lola_gradient,
    simultaneous_gradient,
)

ALPHA = 0.3
X = torch.tensor([[[0.7], [-0.4]]], dtype=torch.float64)


def test_bilinear_closed_forms_of_naive_lola_and_hola2():
    game = BilinearZeroSum()
    x1, x2, a = 0.7, -0.4, ALPHA
    naive = simultaneous_gradient(game.values, X).flatten().tolist()
    assert naive == pytest.approx([x2, -x1])
    # f_1(x_1, x_2 + a df_2/dx_2) = x_1 (x_2 - a x_1): d/dx_1 = x_2 - 2 a x_1 (and symmetric).
    lola = lola_gradient(game.values, X, a).flatten().tolist()
    assert lola == pytest.approx([x2 - 2 * a * x1, -x1 - 2 * a * x2])
    # HOLA2: the opponent follows LOLA: x_1 (x_2 + a (-x_1 - 2 a x_2)).
    hola2 = hola_gradient(game.values, X, a, order=2).flatten().tolist()
    assert hola2[0] == pytest.approx(x2 - 2 * a * x1 - 2 * a**2 * x2)
    assert hola_gradient(game.values, X, a, order=1).flatten().tolist() == pytest.approx(lola)
    assert hola_gradient(game.values, X, a, order=0).flatten().tolist() == pytest.approx(naive)


def test_naive_learning_spirals_out_and_lola_converges_on_the_zero_sum_game():
    game, alpha = BilinearZeroSum(), 0.2
    x_naive = x_lola = X
    for _ in range(100):
        x_naive = learning_step(x_naive, simultaneous_gradient(game.values, x_naive), alpha)
        x_lola = learning_step(x_lola, lola_gradient(game.values, x_lola, alpha), alpha)
    radius = float(X.norm())
    assert float(x_naive.norm()) == pytest.approx(
        radius * naive_growth_factor(alpha) ** 100, rel=1e-9
    )
    # LOLA's update matrix [[1 - 2a^2, a], [-a, 1 - 2a^2]] has modulus^2 (1 - 2a^2)^2 + a^2 < 1.
    contraction = math.sqrt((1 - 2 * alpha**2) ** 2 + alpha**2)
    assert float(x_lola.norm()) == pytest.approx(radius * contraction**100, rel=1e-9)
    assert x_lola.norm() < 1e-2 * radius < 5 * radius < x_naive.norm()


def _lola_surrogate(game, x, alpha, player):
    """f_i(x + alpha S_j^T S_j grad-bar f(x)), the opponent's naive step written out."""
    opponent = 1 - player
    step = simultaneous_gradient(game.values, x)
    ahead = x.clone()
    ahead[..., opponent, :] += alpha * step[..., opponent, :]
    return game.values(ahead)[..., player]


def _lola_surrogate_by_finite_differences(game, x, alpha, eps=1e-6):
    """d/dx_i of each player's LOLA surrogate by central differences, per coordinate."""
    result = torch.zeros_like(x)
    for player in range(2):
        for k in range(x.shape[-1]):
            shift = torch.zeros_like(x)
            shift[..., player, k] = eps
            plus = _lola_surrogate(game, x + shift, alpha, player)
            minus = _lola_surrogate(game, x - shift, alpha, player)
            result[..., player, k] = (plus - minus) / (2 * eps)
    return result


@pytest.mark.parametrize("game", [LogisticGame(), ExactIPD()], ids=["logistic", "ipd"])
def test_lola_matches_finite_differences_of_its_surrogate(game):
    x = game.initial_policies(3, torch.Generator().manual_seed(1)).double()
    expected = _lola_surrogate_by_finite_differences(game, x, alpha=2.0)
    assert torch.allclose(lola_gradient(game.values, x, 2.0), expected, atol=1e-6)


def test_simultaneous_gradient_is_own_gradient_only():
    game = LogisticGame()
    x = torch.tensor([[[1.0], [-2.0]]], dtype=torch.float64)
    s1, s2 = torch.sigmoid(x[0, 0, 0]), torch.sigmoid(x[0, 1, 0])
    grad = simultaneous_gradient(game.values, x)
    x1, x2 = 1.0, -2.0
    penalty_x1 = 2 * x1 * x2**2 + 2 * (x1 - x2) * (x1 + x2) ** 2 + 2 * (x1 - x2) ** 2 * (x1 + x2)
    expected = -4 * s1 * (1 - s1) * (1 - 2 * s2) - penalty_x1 / 10000
    assert float(grad[0, 0, 0]) == pytest.approx(float(expected))


def test_hola_order_is_validated():
    with pytest.raises(ValueError, match="order must be an integer >= 0, got -1"):
        hola_gradient(LogisticGame().values, X, 1.0, order=-1)


def test_cola_consistency_loss_is_zero_for_the_exact_consistent_update_and_falls_in_training():
    game = BilinearZeroSum()
    # Fit g = (c x_2 - d x_1, -c x_1 - d x_2) by minimising the consistency loss.
    coefficients = torch.zeros(2, dtype=torch.float64, requires_grad=True)

    def field(x):
        c, d = coefficients
        x1, x2 = x[..., 0, :], x[..., 1, :]
        return torch.stack([c * x2 - d * x1, -c * x1 - d * x2], dim=-2)

    points = torch.randn(64, 2, 1, dtype=torch.float64)
    optimizer = torch.optim.Adam([coefficients], lr=0.05)
    losses = []
    for _ in range(300):
        loss = cola_consistency_loss(game.values, points, ALPHA, field)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 1e-8 < losses[0]
    c, d = coefficients.tolist()
    # Consistency: d/dx_1 [x_1 (x_2 + a g_2(x))] = (1 - a d) x_2 - 2 a c x_1 must equal g_1, so
    # c = 1 - a d and d = 2 a c: c = 1 / (1 + 2 a^2), d = 2 a / (1 + 2 a^2).
    assert c == pytest.approx(1 / (1 + 2 * ALPHA**2), abs=1e-4)
    assert d == pytest.approx(2 * ALPHA / (1 + 2 * ALPHA**2), abs=1e-4)


@pytest.mark.parametrize("game", [LogisticGame(), ExactIPD(), BilinearZeroSum()], ids=str)
def test_batched_backward_equals_one_backward_per_player(game):
    x = game.initial_policies(7, torch.Generator().manual_seed(0)).double()
    fast = simultaneous_gradient(game.values, x)
    per_player = simultaneous_gradient(game.values, x, create_graph=True)
    assert not fast.requires_grad and per_player.requires_grad
    assert torch.allclose(fast, per_player)
