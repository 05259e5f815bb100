"""Pieces of the paper-004 evaluations that can be checked exactly."""

import pytest
import torch

from envs.differentiable.games import ExactIPD, LogisticGame
from rllib_meta.algorithms.meta_value import learning_dynamics
from rllib_meta.algorithms.meta_value.learning_dynamics import (
    LearnedRule,
    basin_grid,
    frozen_first,
    in_solution_b,
    learned_field,
    mixed_field,
    model_free_field,
    run_field,
)
from rllib_meta.algorithms.meta_value.networks import MetaValueNetwork
from rllib_meta.core.learning_rules import simultaneous_gradient
from rllib_meta.core.rule_fields import RuleSpec


def _random_meva(game):
    torch.manual_seed(0)
    return LearnedRule("meva", "MeVa", MetaValueNetwork(game.num_params, 16, 4))


def test_the_basin_grid_spans_the_papers_square_row_major():
    grid = basin_grid(size=3, extent=10.0)
    assert grid.shape == (9, 2, 1)
    assert grid[0].flatten().tolist() == [-10.0, -10.0]
    assert grid[1].flatten().tolist() == [0.0, -10.0]  # x_1 varies fastest
    assert grid[-1].flatten().tolist() == [10.0, 10.0]
    assert in_solution_b(grid).tolist() == [False] * 8 + [True]


def test_naive_learning_on_the_logistic_game_ends_at_the_nearest_solution():
    game = LogisticGame()
    field = model_free_field(game, RuleSpec("naive"))
    # The basins meet on the diagonal x_1 + x_2 = 0 (paper Fig. 2b, first panel).
    starts = torch.tensor([[[6.0], [5.0]], [[-6.0], [-5.0]], [[8.0], [-1.0]], [[1.0], [-8.0]]])
    final = run_field(starts, field, 200, 1.0)[-1]
    assert in_solution_b(final).tolist() == [True, False, True, False]


def test_meva_at_gamma_zero_is_naive_learning():
    game = ExactIPD()
    x = game.initial_policies(5, torch.Generator().manual_seed(2))
    meva = learned_field(game, _random_meva(game), 0.0)(x)
    assert torch.allclose(meva, simultaneous_gradient(game.values, x), atol=1e-6)


def test_against_a_naive_learner_the_second_player_takes_naive_steps():
    game = ExactIPD()
    x = game.initial_policies(5, torch.Generator().manual_seed(3))
    shaping = learned_field(game, _random_meva(game), (0.9, 0.0))(x)
    naive = simultaneous_gradient(game.values, x)
    assert torch.allclose(shaping[:, 1], naive[:, 1], atol=1e-6)
    assert not torch.allclose(shaping[:, 0], naive[:, 0], atol=1e-3)


def test_mixed_and_frozen_fields_take_each_players_block():
    def first(x):
        return torch.ones_like(x)

    def second(x):
        return 2 * torch.ones_like(x)

    x = torch.zeros(3, 2, 5)
    assert mixed_field(first, second)(x)[:, :, 0].tolist() == [[1.0, 2.0]] * 3
    assert frozen_first(second)(x)[:, :, 0].tolist() == [[0.0, 2.0]] * 3


def test_ipd_panels_of_naive_learning_are_mutual_defection(monkeypatch):
    for name, value in {"IPD_PAIRS": 16, "IPD_STEPS": 100, "IPD_BEST_RESPONSE_STEPS": 100}.items():
        monkeypatch.setattr(learning_dynamics, name, value)
    game = ExactIPD()
    panels = learning_dynamics.ipd_panels(
        game,
        lambda alpha: learning_dynamics.lola_field_at(game, alpha),
        lambda alpha: learning_dynamics.lola_field_at(game, alpha),
        [0.0],
        seed=0,
    )
    for panel in ("self_play", "best_response", "vs_naive"):
        assert panels[panel]["0"] == pytest.approx([-2.0, -2.0], abs=0.1)
