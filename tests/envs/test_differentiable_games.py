"""Values and gradients of the differentiable games (envs.differentiable.games), and the exact IPD
value against Monte-Carlo rollouts of the ``ipd_lola`` env."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from envs import make
from envs.differentiable.games import (
    BilinearZeroSum,
    DifferentiableGame,
    ExactIPD,
    LogisticGame,
)
from envs.matrix.batched import BatchedIteratedMatrixGame
from envs.matrix.games import ipd_lola

GAMES: list[DifferentiableGame] = [LogisticGame(), ExactIPD(), ExactIPD(0.5), BilinearZeroSum()]
SURE = 50.0  # a logit whose sigmoid is exactly 1 in float64: a deterministic choice

# Own-first IPD strategies as P(cooperate) logits in states (start, CC, CD, DC, DD).
COOPERATE = [SURE] * 5
DEFECT = [-SURE] * 5
TIT_FOR_TAT = [SURE, SURE, -SURE, SURE, -SURE]  # copy the opponent's last action (2nd letter)


def game_id(game: DifferentiableGame) -> str:
    return f"{game.name}-{getattr(game, 'discount', '')}"


def ipd_value(first: list[float], second: list[float], discount: float = 0.96) -> list[float]:
    x = torch.tensor([first, second], dtype=torch.float64)
    return ExactIPD(discount).values(x).tolist()


# -- ExactIPD ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (COOPERATE, COOPERATE, [-1.0, -1.0]),
        (DEFECT, DEFECT, [-2.0, -2.0]),
        (COOPERATE, DEFECT, [-3.0, 0.0]),
        (DEFECT, COOPERATE, [0.0, -3.0]),
        (TIT_FOR_TAT, TIT_FOR_TAT, [-1.0, -1.0]),
        # Round 1 CD, then DD forever: (1 - g) * payoff_CD + g * payoff_DD.
        (TIT_FOR_TAT, DEFECT, [0.04 * -3 + 0.96 * -2, 0.04 * 0 + 0.96 * -2]),
        (DEFECT, TIT_FOR_TAT, [0.96 * -2, 0.04 * -3 + 0.96 * -2]),
    ],
)
def test_exact_ipd_deterministic_strategies(
    first: list[float], second: list[float], expected: list[float]
) -> None:
    assert ipd_value(first, second) == pytest.approx(expected, abs=1e-12)


def test_exact_ipd_reads_each_players_own_first_state() -> None:
    # Player 1 below acts on its own-first state; reading its table in canonical order (CD and DC
    # swapped for player 1) would change every one of these values.
    # Defect only after own-first CD (I cooperated, they defected), cooperate after DD: against
    # always-defect it alternates C, D, C, D, ... earning -3, -2, ... (the defector 0, -2, ...);
    # (1 - g) (a + g b) / (1 - g^2) = (a + g b) / (1 + g).
    punisher = [SURE, SURE, -SURE, SURE, SURE]
    expected = [-2.0 * 0.96 / 1.96, (-3.0 - 2.0 * 0.96) / 1.96]
    assert ipd_value(DEFECT, punisher) == pytest.approx(expected, abs=1e-12)
    assert ipd_value(TIT_FOR_TAT, punisher) == pytest.approx([-1.0, -1.0], abs=1e-12)
    # Open with D and keep defecting after own-first DC (I exploited them): against a cooperator
    # the play stays in canonical CD forever.
    exploiter = [-SURE, SURE, SURE, -SURE, SURE]
    assert ipd_value(COOPERATE, exploiter) == pytest.approx([-3.0, 0.0], abs=1e-12)


def test_exact_ipd_discount_enters_the_value() -> None:
    # Round 1 CD, then DD: (1 - g) * -3 + g * -2 for the tit-for-tat player.
    assert ipd_value(TIT_FOR_TAT, DEFECT, discount=0.5)[0] == pytest.approx(-2.5, abs=1e-12)
    assert ipd_value(TIT_FOR_TAT, DEFECT, discount=0.0)[0] == pytest.approx(-3.0, abs=1e-12)


def test_exact_ipd_is_symmetric_and_bounded() -> None:
    x = torch.randn(64, 2, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    values = ExactIPD().values(x)
    swapped = ExactIPD().values(x.flip(-2))
    torch.testing.assert_close(swapped, values.flip(-1), rtol=0, atol=1e-12)
    assert bool((values >= -3.0).all() and (values <= 0.0).all())  # averages of payoffs
    assert bool((values.sum(-1) >= -4.0).all() and (values.sum(-1) <= -2.0).all())


@pytest.mark.parametrize("discount", [1.0, -0.1, True, "0.9"])
def test_exact_ipd_refuses_bad_discounts(discount: object) -> None:
    with pytest.raises(ValueError, match=f"discount must .*got {discount!r}"):
        ExactIPD(discount)  # type: ignore[arg-type]


# -- Logistic Game and bilinear zero-sum game -------------------------------------------------


def test_logistic_game_values_by_hand() -> None:
    game = LogisticGame()
    values = game.values(torch.zeros(2, 1, dtype=torch.float64))
    assert values.tolist() == [0.0, 0.0]  # s = 1/2 makes both products vanish
    # x = (ln 3, -ln 3): s1 = 3/4, s2 = 1/4; R = (ln 3)^4 / 10000 (x1 + x2 = 0).
    log3 = math.log(3.0)
    penalty = log3**4 / 10000.0
    x = torch.tensor([[log3], [-log3]], dtype=torch.float64)
    assert game.values(x).tolist() == pytest.approx([-1.5 - penalty, 0.5 - penalty], abs=1e-12)
    # x = (10, -10): R = (10^4 + 20^2 * 0) / 10^4 = 1, s(10) = 1 - s(-10).
    big = 1.0 / (1.0 + math.exp(-10.0))
    x = torch.tensor([[10.0], [-10.0]], dtype=torch.float64)
    expected = [-4 * big * (1 - 2 * (1 - big)) - 1.0, -4 * (1 - big) * (1 - 2 * big) - 1.0]
    assert game.values(x).tolist() == pytest.approx(expected, abs=1e-12)


def test_logistic_game_is_symmetric() -> None:
    x = 8.0 * torch.randn(128, 2, 1, generator=torch.Generator().manual_seed(1))
    values = LogisticGame().values(x.double())
    swapped = LogisticGame().values(x.double().flip(-2))
    torch.testing.assert_close(swapped, values.flip(-1), rtol=0, atol=1e-12)


def test_bilinear_zero_sum_values() -> None:
    game = BilinearZeroSum()
    assert game.values(torch.tensor([[2.0], [-3.0]])).tolist() == [-6.0, 6.0]
    x = torch.randn(32, 2, 1, generator=torch.Generator().manual_seed(2))
    assert game.values(x).sum(-1).abs().max() == 0.0
    assert not game.symmetric  # f_1(a, b) = ab but f_2(b, a) = -ab


def test_initial_policies_follow_the_papers_distributions() -> None:
    generator = torch.Generator().manual_seed(3)
    logistic = LogisticGame().initial_policies(4096, generator)
    assert logistic.shape == (4096, 2, 1) and float(logistic.abs().max()) <= 8.0
    assert float(logistic.abs().max()) > 7.5  # U(-8, 8), not a narrower range
    bilinear = BilinearZeroSum().initial_policies(4096, generator)
    assert float(bilinear.abs().max()) <= 1.0 and float(bilinear.abs().max()) > 0.9
    logits = ExactIPD().initial_policies(4096, generator)
    assert logits.shape == (4096, 2, 5)
    assert abs(float(logits.std()) - 1.0) < 0.05 and abs(float(logits.mean())) < 0.05


# -- gradients --------------------------------------------------------------------------------


@pytest.mark.parametrize("game", GAMES, ids=game_id)
def test_autograd_matches_central_finite_differences(game: DifferentiableGame) -> None:
    generator = torch.Generator().manual_seed(4)
    x = 2.0 * torch.randn(3, 2, game.num_params, generator=generator, dtype=torch.float64)
    x.requires_grad_(True)
    values = game.values(x)
    for player in range(2):
        (gradient,) = torch.autograd.grad(values[:, player].sum(), x, retain_graph=True)
        numeric = torch.zeros_like(x)
        step = 1e-6
        for index in np.ndindex(*x.shape[1:]):
            offset = torch.zeros_like(x)
            offset[(slice(None), *index)] = step
            with torch.no_grad():
                difference = game.values(x + offset) - game.values(x - offset)
            numeric[(slice(None), *index)] = difference[:, player] / (2 * step)
        torch.testing.assert_close(gradient, numeric, rtol=1e-6, atol=1e-8)
        assert float(gradient.abs().max()) > 1e-3  # the comparison is not between zeros


# -- exact IPD value against Monte-Carlo rollouts of the ipd_lola env --------------------------

DISCOUNT = 0.96
# Fixed memory-one policy pairs (logits) whose values differ from those with player 1's CD and DC
# rows swapped by more than the tolerances below (checked in the tests).
POLICY_PAIRS: list[tuple[list[float], list[float]]] = [
    ([2.0, 1.5, -1.0, 0.5, -2.0], [0.5, 2.0, 2.5, -2.5, -1.0]),
    ([0.0, 3.0, -3.0, 3.0, -3.0], [1.0, 1.0, -2.0, 2.0, 0.0]),
    ([-1.0, 0.5, 1.0, -0.5, 0.5], [2.0, -1.0, 3.0, -3.0, 1.5]),
]
PAYOFF_BOUND = 3.0  # max |payoff| in ipd_lola: bounds the truncated tail of the return


def exact_and_swapped_values(first: list[float], second: list[float]) -> tuple[np.ndarray, ...]:
    """The exact value, and the value if player 1's own-first CD/DC rows were misread."""
    swapped = [second[0], second[1], second[3], second[2], second[4]]
    return tuple(np.array(ipd_value(first, s)) for s in (second, swapped))


def check_against_exact(returns: np.ndarray, first: list[float], second: list[float], horizon: int):
    """Mean normalised return within 4 standard errors plus the truncation bound of the exact
    value, and the test able to tell the exact value from a misread policy."""
    exact, swapped = exact_and_swapped_values(first, second)
    mean = returns.mean(axis=0)
    standard_error = returns.std(axis=0, ddof=1) / math.sqrt(len(returns))
    tolerance = 4 * standard_error + PAYOFF_BOUND * DISCOUNT**horizon
    assert np.all(np.abs(mean - exact) <= tolerance), (mean, exact, tolerance)
    assert np.any(np.abs(swapped - exact) > 2 * tolerance), (swapped, exact, tolerance)


def cooperate_probabilities(logits: list[float]) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def test_exact_ipd_matches_rollouts_of_the_pettingzoo_env() -> None:
    # The env itself, one episode at a time (episodes in sequence keep the code obvious).
    horizon, episodes = 150, 800
    env = make("ipd_lola", horizon=horizon, own_first_observation=True)
    rng = np.random.default_rng(5)
    weights = (1 - DISCOUNT) * DISCOUNT ** np.arange(horizon)
    first, second = POLICY_PAIRS[0]
    probabilities = [cooperate_probabilities(first), cooperate_probabilities(second)]
    returns = np.zeros((episodes, 2))
    for episode in range(episodes):
        observations, _ = env.reset(seed=episode)
        uniforms = rng.random((horizon, 2))
        rewards = np.zeros((horizon, 2))
        for t in range(horizon):
            # Own-first state index from the one-hot; cooperate (action 0) with probability p.
            actions = {
                f"player_{i}": int(
                    uniforms[t, i] >= probabilities[i][observations[f"player_{i}"].argmax()]
                )
                for i in range(2)
            }
            observations, step_rewards, terminations, _, _ = env.step(actions)
            rewards[t] = [step_rewards["player_0"], step_rewards["player_1"]]
        assert all(terminations.values())
        returns[episode] = weights @ rewards
    check_against_exact(returns, first, second, horizon)


@pytest.mark.parametrize("pair", POLICY_PAIRS, ids=["pair0", "pair1", "pair2"])
def test_exact_ipd_matches_batched_rollouts(pair: tuple[list[float], list[float]]) -> None:
    # The batched core follows the same rules; its many episodes give a tight check.
    horizon, episodes = 300, 20000
    first, second = pair
    core = BatchedIteratedMatrixGame(
        ipd_lola(), horizon, episodes, own_first_observation=True, dtype=torch.float64
    )
    probabilities = torch.tensor(
        np.stack([cooperate_probabilities(first), cooperate_probabilities(second)])
    )
    generator = torch.Generator().manual_seed(6)
    observed = core.reset()
    returns = torch.zeros(episodes, 2, dtype=torch.float64)
    weight = 1 - DISCOUNT
    for _ in range(horizon):
        cooperate = probabilities[torch.arange(2), observed]  # (B, 2)
        uniforms = torch.rand(episodes, 2, generator=generator, dtype=torch.float64)
        observed, rewards, _ = core.step((uniforms >= cooperate).long())
        returns += weight * rewards
        weight *= DISCOUNT
    check_against_exact(returns.numpy(), first, second, horizon)


@pytest.mark.parametrize("game", [LogisticGame(), BilinearZeroSum()], ids=str)
def test_closed_form_own_gradients_equal_autograd(game):
    """``d f_i / d x_i`` of the closed form against autograd of ``values``, player by player."""
    x = 12.0 * torch.rand(50, 2, 1, generator=torch.Generator().manual_seed(0)).double() - 6.0
    x.requires_grad_(True)
    values = game.values(x)
    expected = torch.stack(
        [torch.autograd.grad(values[:, p].sum(), x, retain_graph=True)[0][:, p] for p in (0, 1)],
        dim=1,
    )
    closed_form = game.own_gradients(x)
    assert not closed_form.requires_grad
    torch.testing.assert_close(closed_form, expected, rtol=1e-12, atol=1e-15)


def test_the_exact_ipd_has_no_closed_form_gradient():
    assert ExactIPD().own_gradients(torch.zeros(2, 5)) is None
