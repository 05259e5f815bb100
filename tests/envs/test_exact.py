"""Exact values of 2-player memory-one policies (envs.matrix.exact), checked against hand values,
Monte-Carlo rollouts of the real PettingZoo env, MeVa's closed form and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs.matrix import exact
from envs.matrix.games import MatrixGame, canonical_game, ipd, ipd_lola, rps
from envs.matrix.iterated import IteratedMatrixGame

# IPD canonical states: start, CC, CD, DC, DD (player_0's action first). Rows: P(C), P(D).
ALWAYS_C = torch.tensor([[1.0, 0.0]] * 5, dtype=torch.float64)
ALWAYS_D = torch.tensor([[0.0, 1.0]] * 5, dtype=torch.float64)
# Tit-for-tat copies the opponent's previous action: player_1's action is the 2nd digit for
# player_0, the 1st digit for player_1 (canonical states).
TFT_0 = torch.tensor([[1.0, 0], [1, 0], [0, 1], [1, 0], [0, 1]], dtype=torch.float64)
TFT_1 = torch.tensor([[1.0, 0], [1, 0], [1, 0], [0, 1], [0, 1]], dtype=torch.float64)


def random_policy(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    logits = torch.randn(*shape, generator=generator, dtype=torch.float64)
    return torch.softmax(logits, dim=-1)


def payoff_tensor(game: MatrixGame) -> torch.Tensor:
    return torch.tensor(np.array(game.payoffs), dtype=torch.float64)


# -- Markov chain pieces ----------------------------------------------------------------------


def test_transition_matrix_structure() -> None:
    generator = torch.Generator().manual_seed(0)
    pi_0, pi_1 = random_policy((10, 3), generator), random_policy((10, 3), generator)
    transitions = exact.transition_matrix(pi_0, pi_1)
    assert transitions.shape == (10, 10)
    torch.testing.assert_close(transitions.sum(-1), torch.ones(10, dtype=torch.float64))
    assert transitions[:, 0].eq(0).all()  # the start state is never re-entered
    # From any state s, P(s -> 1 + a0 * 3 + a1) = pi_0[s, a0] * pi_1[s, a1].
    torch.testing.assert_close(transitions[4, 1 + 2 * 3 + 1], pi_0[4, 2] * pi_1[4, 1])


def test_expected_step_rewards_of_deterministic_policies() -> None:
    rewards = exact.expected_step_rewards(ALWAYS_C, ALWAYS_D, ipd().payoffs)
    torch.testing.assert_close(rewards, torch.tensor([[-1.5, 1.5]] * 5, dtype=torch.float64))


# -- hand-computed values ---------------------------------------------------------------------


def test_mutual_cooperation_pays_half_per_step() -> None:
    values = exact.finite_horizon_values(ALWAYS_C, ALWAYS_C, ipd().payoffs, horizon=150)
    torch.testing.assert_close(values, torch.tensor([75.0, 75.0], dtype=torch.float64))
    normalized = exact.discounted_values(ALWAYS_C, ALWAYS_C, ipd().payoffs, 0.96, normalize=True)
    torch.testing.assert_close(normalized, torch.tensor([0.5, 0.5], dtype=torch.float64))


def test_tit_for_tat_against_always_defect() -> None:
    # Round 0: CD (-1.5, 1.5); afterwards DD (-0.5, -0.5) forever.
    values = exact.finite_horizon_values(TFT_0, ALWAYS_D, ipd().payoffs, horizon=10)
    torch.testing.assert_close(values, torch.tensor([-1.5 - 4.5, 1.5 - 4.5], dtype=torch.float64))
    gamma = 0.9
    discounted = exact.discounted_values(TFT_0, ALWAYS_D, ipd().payoffs, gamma)
    tail = gamma / (1 - gamma) * -0.5
    torch.testing.assert_close(discounted, torch.tensor([-1.5 + tail, 1.5 + tail]).double())


def test_tit_for_tat_pair_and_discounted_gamma_from_start() -> None:
    values = exact.finite_horizon_values(TFT_0, TFT_1, ipd_lola().payoffs, horizon=4, gamma=0.5)
    torch.testing.assert_close(values, torch.full((2,), -(1 + 0.5 + 0.25 + 0.125)).double())
    # Always D vs always C on the LOLA scale: (0, -3) every step.
    normalized = exact.discounted_values(ALWAYS_D, ALWAYS_C, ipd_lola().payoffs, 0.96, True)
    torch.testing.assert_close(normalized, torch.tensor([0.0, -3.0], dtype=torch.float64))


def test_rps_uniform_and_pure_strategies() -> None:
    uniform = torch.full((10, 3), 1 / 3, dtype=torch.float64)
    paper = torch.tensor([[0.0, 1.0, 0.0]] * 10, dtype=torch.float64)
    rock = torch.tensor([[1.0, 0.0, 0.0]] * 10, dtype=torch.float64)
    zero = torch.zeros(2, dtype=torch.float64)
    torch.testing.assert_close(exact.finite_horizon_values(uniform, paper, rps(2).payoffs, 5), zero)
    values = exact.finite_horizon_values(paper, rock, rps(2).payoffs, horizon=5)
    torch.testing.assert_close(values, torch.tensor([5.0, -5.0], dtype=torch.float64))


# -- against Monte Carlo rollouts of the PettingZoo env ---------------------------------------


def monte_carlo_returns(
    env: IteratedMatrixGame,
    policies: list[np.ndarray],
    episodes: int,
    gamma: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Discounted returns ``(episodes, 2)`` from stepping the real env; policies index the
    observation each agent receives (one-hot -> state)."""
    returns = np.zeros((episodes, 2))
    for episode in range(episodes):
        observations, _ = env.reset()
        discount = 1.0
        while env.agents:
            actions = {
                agent: int(
                    rng.choice(len(policy[0]), p=policy[int(np.argmax(observations[agent]))])
                )
                for agent, policy in zip(env.possible_agents, policies, strict=True)
            }
            observations, rewards, *_ = env.step(actions)
            returns[episode] += discount * np.array([rewards[a] for a in env.possible_agents])
            discount *= gamma
    return returns


@pytest.mark.parametrize(
    ("game", "horizon", "gamma", "own_first"),
    [(ipd(), 5, 0.9, True), (canonical_game("chicken"), 4, 1.0, False), (rps(2), 3, 0.8, True)],
    ids=["ipd-own-first", "chicken", "rps-own-first"],
)
def test_finite_horizon_matches_monte_carlo(
    game: MatrixGame, horizon: int, gamma: float, own_first: bool
) -> None:
    generator = torch.Generator().manual_seed(1)
    shape = (game.num_states, game.num_actions)
    # Policies as each agent sees its observations (own-first tables when own_first is set).
    observed_policies = [random_policy(shape, generator) for _ in range(2)]
    canonical = [
        exact.own_first_to_canonical(policy, player) if own_first else policy
        for player, policy in enumerate(observed_policies)
    ]
    expected = exact.finite_horizon_values(*canonical, game.payoffs, horizon, gamma).numpy()

    env = IteratedMatrixGame(game, horizon, own_first_observation=own_first)
    policies = [policy.numpy() for policy in observed_policies]
    returns = monte_carlo_returns(env, policies, 2500, gamma, np.random.default_rng(2))
    standard_error = returns.std(axis=0, ddof=1) / np.sqrt(len(returns))
    assert np.all(np.abs(returns.mean(axis=0) - expected) < 4 * standard_error + 1e-9), (
        returns.mean(axis=0),
        expected,
        standard_error,
    )


# -- discounted closed form -------------------------------------------------------------------


def test_long_finite_horizon_converges_to_discounted() -> None:
    generator = torch.Generator().manual_seed(3)
    pi_0, pi_1 = random_policy((4, 5, 2), generator), random_policy((4, 5, 2), generator)
    finite = exact.finite_horizon_values(pi_0, pi_1, ipd().payoffs, horizon=500, gamma=0.9)
    discounted = exact.discounted_values(pi_0, pi_1, ipd().payoffs, gamma=0.9)
    torch.testing.assert_close(finite, discounted, rtol=0, atol=1e-10)


def test_normalized_value_equals_meva_formula() -> None:
    """f_i = (1 - g) p0^T (I - g P)^-1 R_i over the 4 joint-action states (paper 004)."""
    generator = torch.Generator().manual_seed(4)
    pi_0, pi_1 = random_policy((5, 2), generator), random_policy((5, 2), generator)
    gamma = 0.96
    p = pi_0[:, :, None] * pi_1[:, None, :]  # (5, 2, 2)
    start = p[0].reshape(4).numpy()  # first-round joint-action distribution
    transitions = p[1:].reshape(4, 4).numpy()  # joint action -> next joint action
    rewards = ipd_lola().payoffs.reshape(4, 2)
    meva = (1 - gamma) * start @ np.linalg.inv(np.eye(4) - gamma * transitions) @ rewards
    ours = exact.discounted_values(pi_0, pi_1, ipd_lola().payoffs, gamma, normalize=True)
    np.testing.assert_allclose(ours.numpy(), meva, rtol=1e-10)


def test_symmetric_game_value_is_symmetric_in_own_first_tables() -> None:
    """In a symmetric game, swapping two own-first policies swaps the players' values."""
    generator = torch.Generator().manual_seed(5)
    x, y = random_policy((5, 2), generator), random_policy((5, 2), generator)
    payoffs = canonical_game("stag_hunt").payoffs

    def values(own_0: torch.Tensor, own_1: torch.Tensor) -> torch.Tensor:
        pi_0 = exact.own_first_to_canonical(own_0, 0)
        pi_1 = exact.own_first_to_canonical(own_1, 1)
        return exact.discounted_values(pi_0, pi_1, payoffs, 0.9)

    torch.testing.assert_close(values(x, y), values(y, x).flip(-1))


# -- batching, dtypes, gradients --------------------------------------------------------------


def test_leading_dims_broadcast_like_separate_calls() -> None:
    generator = torch.Generator().manual_seed(6)
    pi_0 = random_policy((3, 1, 10, 3), generator)
    pi_1 = random_policy((4, 10, 3), generator)
    payoffs = rps(2).payoffs
    finite = exact.finite_horizon_values(pi_0, pi_1, payoffs, horizon=6, gamma=0.9)
    discounted = exact.discounted_values(pi_0, pi_1, payoffs, gamma=0.9)
    assert finite.shape == discounted.shape == (3, 4, 2)
    for i in range(3):
        for j in range(4):
            single = exact.discounted_values(pi_0[i, 0], pi_1[j], payoffs, gamma=0.9)
            torch.testing.assert_close(discounted[i, j], single)
            single = exact.finite_horizon_values(pi_0[i, 0], pi_1[j], payoffs, 6, 0.9)
            torch.testing.assert_close(finite[i, j], single)


def test_batched_payoffs_broadcast() -> None:
    pi = torch.full((5, 2), 0.5, dtype=torch.float64)
    payoffs = torch.stack([payoff_tensor(ipd()), payoff_tensor(ipd_lola())])  # (2, 2, 2, 2)
    values = exact.discounted_values(pi, pi, payoffs, 0.5, normalize=True)
    torch.testing.assert_close(values, torch.tensor([[0.0, 0.0], [-1.5, -1.5]]).double())


def test_float32_inputs_stay_float32() -> None:
    pi = torch.full((2, 5, 2), 0.5)
    assert exact.finite_horizon_values(pi, pi, ipd().payoffs, 3).dtype == torch.float32
    assert exact.discounted_values(pi, pi, ipd().payoffs, 0.9).dtype == torch.float32


@pytest.mark.parametrize("num_actions", [2, 3])
def test_gradcheck_through_both_value_functions(num_actions: int) -> None:
    generator = torch.Generator().manual_seed(7)
    states = 1 + num_actions**2
    logits = [
        torch.randn(
            2, states, num_actions, generator=generator, dtype=torch.float64
        ).requires_grad_()
        for _ in range(2)
    ]
    payoffs = payoff_tensor(ipd() if num_actions == 2 else rps(2))

    def finite(logits_0: torch.Tensor, logits_1: torch.Tensor) -> torch.Tensor:
        pi_0, pi_1 = torch.softmax(logits_0, -1), torch.softmax(logits_1, -1)
        return exact.finite_horizon_values(pi_0, pi_1, payoffs, horizon=4, gamma=0.9)

    def discounted(logits_0: torch.Tensor, logits_1: torch.Tensor) -> torch.Tensor:
        pi_0, pi_1 = torch.softmax(logits_0, -1), torch.softmax(logits_1, -1)
        return exact.discounted_values(pi_0, pi_1, payoffs, gamma=0.9, normalize=True)

    assert torch.autograd.gradcheck(finite, logits)
    assert torch.autograd.gradcheck(discounted, logits)


def test_works_inside_vmap_without_validation() -> None:
    generator = torch.Generator().manual_seed(8)
    pi_0, pi_1 = random_policy((6, 5, 2), generator), random_policy((6, 5, 2), generator)
    payoffs = payoff_tensor(ipd())

    def value(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return exact.discounted_values(a, b, payoffs, 0.9, validate=False)

    torch.testing.assert_close(torch.func.vmap(value)(pi_0, pi_1), value(pi_0, pi_1))


# -- perspective conversion -------------------------------------------------------------------


def test_own_first_to_canonical_swaps_cd_and_dc_for_player_1() -> None:
    table = torch.arange(10, dtype=torch.float64).reshape(5, 2)
    torch.testing.assert_close(exact.own_first_to_canonical(table, 0), table)
    torch.testing.assert_close(exact.own_first_to_canonical(table, 1), table[[0, 1, 3, 2, 4]])


@pytest.mark.parametrize("num_actions", [2, 3])
def test_own_first_round_trip(num_actions: int) -> None:
    table = torch.randn(3, 1 + num_actions**2, num_actions, dtype=torch.float64)
    for player in (0, 1):
        canonical = exact.own_first_to_canonical(table, player)
        torch.testing.assert_close(exact.canonical_to_own_first(canonical, player), table)


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pi_0", "pi_1", "message"),
    [
        (torch.full((4, 2), 0.5), torch.full((5, 2), 0.5), r"S = 1 \+ A\*\*2.*\(4, 2\)"),
        (torch.full((5, 2), 0.5), torch.full((10, 3), 1 / 3), "same number of actions"),
        (torch.full((5, 2), 0.6), torch.full((5, 2), 0.5), "pi_0 rows must be probability"),
        (torch.full((5, 2), 0.5), ALWAYS_C.float() * 2 - 0.5, "pi_1 rows must be probability"),
        (torch.full((3, 5, 2), 0.5), torch.full((2, 5, 2), 0.5), "do not broadcast"),
        (torch.ones(5, 2, dtype=torch.long), torch.full((5, 2), 0.5), "floating-point"),
    ],
)
def test_bad_policies(pi_0: torch.Tensor, pi_1: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        exact.finite_horizon_values(pi_0, pi_1, ipd().payoffs, horizon=3)


def test_bad_gamma_horizon_payoffs_and_player() -> None:
    pi = torch.full((5, 2), 0.5)
    with pytest.raises(
        ValueError, match=r"gamma must be a number in \[0, 1\) \(the closed form.*; got 1.0"
    ):
        exact.discounted_values(pi, pi, ipd().payoffs, gamma=1.0)
    with pytest.raises(ValueError, match=r"gamma must be a number in \[0, 1\]; got -0.1"):
        exact.finite_horizon_values(pi, pi, ipd().payoffs, horizon=3, gamma=-0.1)
    with pytest.raises(ValueError, match="horizon must be an integer >= 1; got 0"):
        exact.finite_horizon_values(pi, pi, ipd().payoffs, horizon=0)
    with pytest.raises(ValueError, match=r"payoffs must have shape \(\.\.\., 2, 2, 2\)"):
        exact.expected_step_rewards(pi, pi, rps(2).payoffs)
    with pytest.raises(ValueError, match="player must be 0 or 1; got 2"):
        exact.own_first_to_canonical(pi, 2)
