"""Exact finite-horizon Stackelberg tools (envs.matrix.stackelberg), checked against brute-force
enumeration of every time-indexed follower, rollouts of the PettingZoo env, the exact Markov-chain
evaluator and values worked out by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from envs import make
from envs.matrix import exact
from envs.matrix import stackelberg as st
from envs.matrix.games import CANONICAL_GAME_NAMES, canonical_game

PD = canonical_game("prisoners_dilemma").payoffs
ALL_C = torch.zeros(5, dtype=torch.long)
ALL_D = torch.ones(5, dtype=torch.long)
# Leader tit-for-tat copies the follower's last action (the 2nd digit): start C, CC C, CD D,
# DC C, DD D.
TFT = torch.tensor([0, 0, 1, 0, 1])
SOME_GAMES = ["prisoners_dilemma", "chicken", "hero", "stag_hunt"]


def payoffs_of(name: str) -> torch.Tensor:
    return torch.tensor(np.array(canonical_game(name).payoffs), dtype=torch.float64)


def one_hot(actions: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(actions, 2).double()


def random_leader(batch: int, generator: torch.Generator) -> torch.Tensor:
    logits = torch.randn(batch, 5, 2, generator=generator, dtype=torch.float64)
    return torch.softmax(2.0 * logits, dim=-1)


# -- brute force ------------------------------------------------------------------------------


def all_time_indexed_followers(horizon: int) -> torch.Tensor:
    """Every deterministic time-indexed follower, ``(2**(5H), H, 5)``: bit ``5t + s`` of the
    index is the action at step ``t`` in state ``s``."""
    index = torch.arange(2 ** (5 * horizon)).unsqueeze(-1)
    bits = (index >> torch.arange(5 * horizon)) & 1
    return bits.reshape(-1, horizon, 5)


def brute_force_values(
    payoffs: torch.Tensor, leader: torch.Tensor, followers: torch.Tensor
) -> torch.Tensor:
    """Exact expected returns ``(N, 2)`` of each time-indexed follower ``(N, H, 5)`` against one
    stochastic leader ``(5, 2)``, by enumerating the leader's 2**H action sequences."""
    count, horizon, _ = followers.shape
    values = torch.zeros(count, 2, dtype=torch.float64)
    rows = torch.arange(count)
    for sequence in itertools.product((0, 1), repeat=horizon):
        state = torch.zeros(count, dtype=torch.long)
        probability = torch.ones(count, dtype=torch.float64)
        total = torch.zeros(count, 2, dtype=torch.float64)
        for step, leader_action in enumerate(sequence):
            follower_action = followers[rows, step, state]
            probability = probability * leader[state, leader_action]
            total = total + payoffs[leader_action, follower_action]
            state = 1 + 2 * leader_action + follower_action
        values = values + probability.unsqueeze(-1) * total
    return values


def brute_force_best(values: torch.Tensor, ties: str) -> tuple[float, float]:
    """(follower value, leader value) of the best follower under ``ties`` (within 1e-9)."""
    best = values[:, 1].max()
    optimal = values[:, 1] >= best - 1e-9
    leader_values = values[optimal, 0]
    leader = leader_values.max() if ties == "optimistic" else leader_values.min()
    return float(best), float(leader)


def env_returns(name: str, leader: torch.Tensor, follower: torch.Tensor, horizon: int) -> list:
    """Returns of two stationary tables played step by step in the registered PettingZoo env."""
    env = make("matrix_game", game=name, horizon=horizon, center=False)
    observations, _ = env.reset(seed=0)
    totals = [0.0, 0.0]
    while env.agents:
        state = int(np.argmax(observations["player_0"]))
        actions = {"player_0": int(leader[state]), "player_1": int(follower[state])}
        observations, rewards, _, _, _ = env.step(actions)
        totals = [totals[0] + rewards["player_0"], totals[1] + rewards["player_1"]]
    return totals


# -- deterministic policies -------------------------------------------------------------------


def test_memory_one_policies_bit_order_and_index_round_trip() -> None:
    policies = st.memory_one_policies()
    assert policies.shape == (32, 5) and policies.dtype == torch.long
    assert policies[0].tolist() == [0, 0, 0, 0, 0]
    assert policies[1].tolist() == [1, 0, 0, 0, 0]  # bit 0 = the start state
    assert policies[20].tolist() == TFT.tolist()
    assert policies[31].tolist() == [1, 1, 1, 1, 1]
    assert len({tuple(row) for row in policies.tolist()}) == 32
    torch.testing.assert_close(st.policy_index(policies), torch.arange(32))
    batch = policies[torch.tensor([[3, 17], [31, 0]])]
    assert st.policy_index(batch).tolist() == [[3, 17], [31, 0]]


# -- deterministic_returns ----------------------------------------------------------------------


def test_hand_values_prisoners_dilemma() -> None:
    # DD pays (2, 2) ten times.
    torch.testing.assert_close(
        st.deterministic_returns(PD, ALL_D, ALL_D, 10), torch.tensor([20.0, 20.0]).double()
    )
    # TFT vs always-defect: CD (1, 4) once, then DD (2, 2) nine times.
    torch.testing.assert_close(
        st.deterministic_returns(PD, TFT, ALL_D, 10), torch.tensor([19.0, 22.0]).double()
    )


@pytest.mark.parametrize("name", SOME_GAMES)
def test_all_pairs_match_the_exact_markov_chain_evaluator(name: str) -> None:
    policies = st.memory_one_policies()
    leaders, followers = policies[:, None, :], policies[None, :, :]
    returns = st.deterministic_returns(payoffs_of(name), leaders, followers, 10)
    assert returns.shape == (32, 32, 2)
    expected = exact.finite_horizon_values(
        one_hot(leaders), one_hot(followers), payoffs_of(name), 10
    )
    torch.testing.assert_close(returns, expected)


def test_time_indexed_follower_matches_brute_force_and_constant_rows() -> None:
    generator = torch.Generator().manual_seed(1)
    followers = torch.randint(0, 2, (64, 4, 5), generator=generator)
    payoffs = payoffs_of("chicken")
    for leader in st.memory_one_policies()[[0, 9, 20, 31]]:
        got = st.deterministic_returns(payoffs, leader, followers, 4, time_indexed=True)
        torch.testing.assert_close(got, brute_force_values(payoffs, one_hot(leader), followers))
    # A time-indexed table with identical rows is the stationary table (inferred kind).
    stationary = st.memory_one_policies()
    repeated = stationary[:, None, :].expand(32, 4, 5)
    torch.testing.assert_close(
        st.deterministic_returns(payoffs, TFT.expand(32, 5), repeated, 4),
        st.deterministic_returns(payoffs, TFT, stationary, 4, time_indexed=False),
    )


def test_time_indexed_kind_inference_and_override() -> None:
    followers = st.memory_one_policies()[:10]  # (10, 5): 10 stationary or one time-indexed?
    as_time = st.deterministic_returns(PD, TFT, followers, 10)
    assert as_time.shape == (2,)
    as_batch = st.deterministic_returns(PD, TFT, followers, 10, time_indexed=False)
    assert as_batch.shape == (10, 2)
    torch.testing.assert_close(as_batch[0], torch.tensor([30.0, 30.0]).double())


# -- stochastic followers ----------------------------------------------------------------------


def brute_force_stochastic_follower(
    payoffs: torch.Tensor, leader: torch.Tensor, follower: torch.Tensor
) -> torch.Tensor:
    """Exact expected returns ``(2,)`` of a time-indexed stochastic follower ``(H, 5, 2)``
    against one deterministic leader ``(5,)``, by enumerating its 2**H action sequences."""
    horizon = follower.shape[0]
    value = torch.zeros(2, dtype=torch.float64)
    for sequence in itertools.product((0, 1), repeat=horizon):
        state, probability, total = 0, 1.0, torch.zeros(2, dtype=torch.float64)
        for step, follower_action in enumerate(sequence):
            leader_action = int(leader[state])
            probability = probability * follower[step, state, follower_action]
            total = total + payoffs[leader_action, follower_action]
            state = 1 + 2 * leader_action + follower_action
        value = value + probability * total
    return value


def test_stochastic_follower_returns_match_enumeration_and_deterministic_tables() -> None:
    generator = torch.Generator().manual_seed(4)
    payoffs = payoffs_of("chicken")
    leaders = st.memory_one_policies()[[0, 5, 13, 22, 31]]
    stationary = torch.softmax(torch.randn(5, 5, 2, generator=generator).double(), dim=-1)
    timed = torch.softmax(torch.randn(5, 4, 5, 2, generator=generator).double(), dim=-1)
    got_stationary = st.stochastic_follower_returns(payoffs, leaders, stationary, 4)
    got_timed = st.stochastic_follower_returns(payoffs, leaders, timed, 4, time_indexed=True)
    for row, leader in enumerate(leaders):
        expected = brute_force_stochastic_follower(payoffs, leader, stationary[row].expand(4, 5, 2))
        torch.testing.assert_close(got_stationary[row], expected)
        torch.testing.assert_close(
            got_timed[row], brute_force_stochastic_follower(payoffs, leader, timed[row])
        )
    # One-hot probabilities are the deterministic tables: all 32 x 32 stationary pairs.
    followers = st.memory_one_policies()
    got = st.stochastic_follower_returns(PD, followers[:, None, :], one_hot(followers)[None], 10)
    torch.testing.assert_close(got, st.stationary_response_returns(PD, followers, 10))


def test_stochastic_follower_returns_are_differentiable_in_the_probabilities() -> None:
    probs = torch.rand(2, 3, 5, 2, dtype=torch.float64, requires_grad=True)
    leaders = st.memory_one_policies()[[6, 25]]
    assert torch.autograd.gradcheck(
        lambda p: st.stochastic_follower_returns(PD, leaders, p, 3, time_indexed=True), (probs,)
    )


# -- stationary responses -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["prisoners_dilemma", "hero", "battle"])
def test_stationary_response_returns_match_env_rollouts(name: str) -> None:
    leaders = st.memory_one_policies()[[5, 20, 26]]
    returns = st.stationary_response_returns(canonical_game(name).payoffs, leaders, 10)
    assert returns.shape == (3, 32, 2)
    for i, leader in enumerate(leaders):
        for j, follower in enumerate(st.memory_one_policies()):
            assert returns[i, j].tolist() == env_returns(name, leader, follower, 10)


def test_stationary_best_response_to_tit_for_tat() -> None:
    # Against TFT a stationary follower that cooperates at the start and after CC earns 3 per
    # step (30); no stationary table can defect only at the last step. The CC loop never
    # visits CD/DC/DD, so every table with C in states 0 and 1 ties; all give the leader 30 and
    # the lowest index (always-C) wins.
    follower_value, leader_value, policy = st.stationary_best_response(PD, TFT, 10)
    assert (float(follower_value), float(leader_value)) == (30.0, 30.0)
    assert policy.tolist() == [0, 0, 0, 0, 0]
    # Time-aware: cooperate nine times, defect at the end: 9 * 3 + 4 = 31, the leader 27 + 1.
    follower_value, leader_value, plan = st.time_aware_best_response(PD, one_hot(TFT), 10)
    assert (float(follower_value), float(leader_value)) == (31.0, 28.0)
    assert plan[:9, :2].eq(0).all() and plan[9].tolist() == [1, 1, 1, 1, 1]


# -- time-aware DP against brute force --------------------------------------------------------


@pytest.mark.parametrize("horizon", [1, 2, 3])
@pytest.mark.parametrize("ties", ["optimistic", "pessimistic", "first"])
def test_time_aware_dp_matches_enumeration_of_all_followers(horizon: int, ties: str) -> None:
    followers = all_time_indexed_followers(horizon)
    generator = torch.Generator().manual_seed(horizon)
    stochastic = random_leader(6, generator)
    deterministic = one_hot(st.memory_one_policies()[[0, 9, 12, 17, 20, 31]])
    leaders = torch.cat([stochastic, deterministic])
    for name in SOME_GAMES:
        payoffs = payoffs_of(name)
        follower_values, leader_values, plans = st.time_aware_best_response(
            payoffs, leaders, horizon, ties
        )
        assert plans.shape == (len(leaders), horizon, 5)
        for k, leader in enumerate(leaders):
            values = brute_force_values(payoffs, leader, followers)
            # The returned plan really earns the returned values ...
            plan_values = brute_force_values(payoffs, leader, plans[k : k + 1])[0]
            torch.testing.assert_close(plan_values[1], follower_values[k])
            torch.testing.assert_close(plan_values[0], leader_values[k])
            # ... and they are the optimum of all 2**(5H) deterministic time-indexed followers.
            best, leader_best = brute_force_best(values, "optimistic" if ties == "first" else ties)
            assert float(follower_values[k]) == pytest.approx(best, abs=1e-9)
            if ties != "first":
                assert float(leader_values[k]) == pytest.approx(leader_best, abs=1e-9)


def test_ties_on_a_half_half_leader_in_chicken() -> None:
    # One-shot chicken, leader C with probability 1/2: the follower gets 2.5 from C (3, 2) and
    # from D (4, 1); the leader gets 3.5 if the follower plays C (3, 4), 1.5 if D (2, 1).
    leader = torch.full((5, 2), 0.5, dtype=torch.float64)
    chicken = canonical_game("chicken").payoffs
    expected = {"optimistic": (3.5, 0), "pessimistic": (1.5, 1), "first": (3.5, 0)}
    for ties, (leader_value, action) in expected.items():
        follower_value, value, plan = st.time_aware_best_response(chicken, leader, 1, ties)
        assert (float(follower_value), float(value)) == (2.5, leader_value)
        assert int(plan[0, 0]) == action


def test_optimistic_and_pessimistic_differ_for_an_indifferent_follower() -> None:
    # Hero, horizon 2, leader 9 = (D at start, C, C, D after DC, C after DD). Follower C first:
    # DC (4, 3), then the leader plays D again and C is best: DC (4, 3) -> follower 6, leader 8.
    # Follower D first: DD (2, 2), then the leader plays C and D is best: CD (3, 4) -> follower
    # 6, leader 5. The follower is indifferent; the leader's value is 8 or 5.
    hero = canonical_game("hero").payoffs
    leader = st.memory_one_policies()[9]
    assert leader.tolist() == [1, 0, 0, 1, 0]
    optimistic = st.stationary_best_response(hero, leader, 2, "optimistic")
    pessimistic = st.stationary_best_response(hero, leader, 2, "pessimistic")
    assert [float(optimistic[0]), float(optimistic[1])] == [6.0, 8.0]
    assert [float(pessimistic[0]), float(pessimistic[1])] == [6.0, 5.0]
    assert optimistic[2].tolist() == [0, 0, 0, 0, 0]  # lowest index with C at start and in DC
    assert pessimistic[2].tolist() == [1, 0, 0, 0, 1]  # lowest index with D at start and in DD
    for ties, leader_value in (("optimistic", 8.0), ("pessimistic", 5.0)):
        values = st.time_aware_best_response(hero, one_hot(leader), 2, ties)
        assert (float(values[0]), float(values[1])) == (6.0, leader_value)


def test_time_aware_value_dominates_stationary_value() -> None:
    leaders = st.memory_one_policies()
    for name in CANONICAL_GAME_NAMES:
        stationary = st.stationary_best_response(payoffs_of(name), leaders, 10)[0]
        time_aware = st.time_aware_best_response(payoffs_of(name), one_hot(leaders), 10)[0]
        assert bool((time_aware >= stationary - 1e-12).all()), name


# -- regret -----------------------------------------------------------------------------------


def test_follower_regret_hand_values_and_zero_at_best_responses() -> None:
    # Always-D earns 4 + 9 * 2 = 22 against TFT; the stationary best is 30, the time-aware 31.
    assert float(st.follower_regret(PD, TFT, ALL_D, 10)) == 8.0
    assert float(st.follower_regret(PD, TFT, ALL_D, 10, reference="time_aware")) == 9.0
    leaders = st.memory_one_policies()
    for name in SOME_GAMES:
        _, _, responses = st.stationary_best_response(payoffs_of(name), leaders, 10)
        assert st.follower_regret(payoffs_of(name), leaders, responses, 10).eq(0).all()
        _, _, plans = st.time_aware_best_response(payoffs_of(name), one_hot(leaders), 10)
        regret = st.follower_regret(payoffs_of(name), leaders, plans, 10, "time_aware")
        assert regret.abs().max() < 1e-12
        # A time-aware plan can beat every stationary table: negative stationary regret.
        assert bool((st.follower_regret(payoffs_of(name), leaders, plans, 10) <= 0).all())


# -- Stackelberg optimum ----------------------------------------------------------------------


def test_prisoners_dilemma_optimum_by_hand() -> None:
    # Leader 21 = (D at start, C after CC, D after CD, C after DC, D after DD). A stationary
    # follower best cooperates throughout: DC (4, 1) then CC (3, 3) nine times -> (31, 28).
    solution = st.stackelberg_optimum(PD, 10)
    assert solution.leader_policy.tolist() == [1, 0, 1, 0, 1]
    assert (solution.leader_return, solution.follower_return) == (31.0, 28.0)
    assert solution.follower_policy.shape == (5,)
    assert (solution.follower, solution.ties) == ("stationary", "optimistic")
    # A time-aware follower also defects at the last step: DC, CC x 8, CD -> (29, 29).
    solution = st.stackelberg_optimum(PD, 10, follower="time_aware")
    assert (solution.leader_return, solution.follower_return) == (29.0, 29.0)
    assert solution.follower_policy.shape == (10, 5)


@pytest.mark.parametrize("follower", ["stationary", "time_aware"])
@pytest.mark.parametrize("ties", ["optimistic", "pessimistic"])
def test_optimum_is_consistent_with_every_leader(follower: str, ties: str) -> None:
    leaders = st.memory_one_policies()
    for name in SOME_GAMES:
        payoffs = payoffs_of(name)
        solution = st.stackelberg_optimum(payoffs, 5, follower, ties)
        if follower == "stationary":
            leader_values = st.stationary_best_response(payoffs, leaders, 5, ties)[1]
        else:
            leader_values = st.time_aware_best_response(payoffs, one_hot(leaders), 5, ties)[1]
        assert solution.leader_return == float(leader_values.max())
        first_best = int(torch.nonzero(leader_values == leader_values.max())[0])
        assert int(st.policy_index(solution.leader_policy)) == first_best
        played = st.deterministic_returns(
            payoffs, solution.leader_policy, solution.follower_policy, 5
        )
        assert played.tolist() == [solution.leader_return, solution.follower_return]


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: st.deterministic_returns(PD, TFT, TFT, 0), "horizon must be an integer >= 1"),
        (lambda: st.deterministic_returns(PD, TFT, TFT, True), "horizon must be an integer"),
        (
            lambda: st.deterministic_returns(PD[0], TFT, TFT, 3),
            r"payoffs must have shape \(2, 2, 2\)",
        ),
        (lambda: st.deterministic_returns(PD, TFT[:4], TFT, 3), r"leader_actions must have shape"),
        (
            lambda: st.deterministic_returns(PD, TFT, TFT * 2, 3),
            r"entries must be actions in \[0, 1\]",
        ),
        (lambda: st.deterministic_returns(PD, TFT.double(), TFT, 3), "must be an integer tensor"),
        (
            lambda: st.deterministic_returns(PD, TFT, TFT, 3, time_indexed=True),
            r"time-indexed follower table must have shape \(\.\.\., horizon=3, 5\)",
        ),
        (
            lambda: st.deterministic_returns(PD, ALL_C.expand(3, 5), ALL_C.expand(2, 5), 3),
            "do not broadcast",
        ),
        (lambda: st.policy_index(torch.zeros(4, dtype=torch.long)), "shape"),
        (
            lambda: st.time_aware_best_response(PD, one_hot(TFT), 3, ties="strong"),
            r"ties must be one of \['optimistic', 'pessimistic', 'first'\]; got 'strong'",
        ),
        (
            lambda: st.time_aware_best_response(PD, torch.ones(5, 2).double(), 3),
            "rows must be probability distributions",
        ),
        (lambda: st.time_aware_best_response(PD, TFT, 3), "floating-point torch tensor"),
        (
            lambda: st.time_aware_best_response(PD, torch.full((4, 2), 0.5), 3),
            r"shape \(\.\.\., 5, 2\)",
        ),
        (
            lambda: st.follower_regret(PD, TFT, TFT, 3, reference="dp"),
            r"reference must be one of \['stationary', 'time_aware'\]; got 'dp'",
        ),
        (
            lambda: st.stackelberg_optimum(PD, 3, follower="adaptive"),
            r"follower must be one of \['stationary', 'time_aware'\]; got 'adaptive'",
        ),
        (lambda: st.stationary_best_response(PD, TFT, 3, ties=None), "ties must be one of"),
        (
            lambda: st.stochastic_follower_returns(
                PD, TFT, torch.full((5, 2), 0.5).double(), 3, time_indexed=True
            ),
            r"time-indexed follower_probs must have shape \(\.\.\., 3, 5, 2\); got \(5, 2\)",
        ),
    ],
)
def test_bad_inputs(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
