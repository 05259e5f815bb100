"""Payoff tables and state indexing of envs.matrix.games (papers 001 and 003)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from envs.matrix.games import (
    CANONICAL_GAME_NAMES,
    MatrixGame,
    battle_of_sexes,
    canonical_game,
    ipd,
    ipd_lola,
    joint_action_to_state,
    own_first_state_permutation,
    rps,
    state_place_values,
    state_to_joint_action,
)

# Written out again from Robinson & Goforth's table (as in paper 003 and "The Good Shepherd"),
# not imported, so that a typo in games.py shows up.
CANONICAL_TABLE = {
    "prisoners_dilemma": [(3, 3), (1, 4), (4, 1), (2, 2)],
    "stag_hunt": [(4, 4), (1, 3), (3, 1), (2, 2)],
    "assurance": [(4, 4), (1, 2), (2, 1), (3, 3)],
    "coordination": [(4, 4), (2, 1), (1, 2), (3, 3)],
    "mixed_harmony": [(4, 4), (3, 1), (1, 3), (2, 2)],
    "harmony": [(4, 4), (3, 2), (2, 3), (1, 1)],
    "no_conflict": [(4, 4), (2, 3), (3, 2), (1, 1)],
    "deadlock": [(2, 2), (1, 4), (4, 1), (3, 3)],
    "prisoners_delight": [(1, 1), (2, 4), (4, 2), (3, 3)],
    "hero": [(1, 1), (3, 4), (4, 3), (2, 2)],
    "battle": [(2, 2), (3, 4), (4, 3), (1, 1)],
    "chicken": [(3, 3), (2, 4), (4, 2), (1, 1)],
}
JOINT_2X2 = [(0, 0), (0, 1), (1, 0), (1, 1)]  # CC, CD, DC, DD


def assert_2x2(game: MatrixGame, cc_cd_dc_dd: list[tuple[float, float]]) -> None:
    assert game.payoffs.shape == (2, 2, 2)
    for joint, expected in zip(JOINT_2X2, cc_cd_dc_dd, strict=True):
        np.testing.assert_array_equal(game.payoffs[joint], expected, err_msg=f"{joint}")


def test_ipd_meta_mapg_table() -> None:
    assert_2x2(ipd(), [(0.5, 0.5), (-1.5, 1.5), (1.5, -1.5), (-0.5, -0.5)])
    assert ipd().action_names == ("C", "D")


def test_ipd_lola_table_is_meta_mapg_minus_one_and_a_half() -> None:
    assert_2x2(ipd_lola(), [(-1, -1), (-3, 0), (0, -3), (-2, -2)])
    np.testing.assert_array_equal(ipd_lola().payoffs + 1.5, ipd().payoffs)


def test_canonical_names_cover_the_twelve_games() -> None:
    assert sorted(CANONICAL_GAME_NAMES) == sorted(CANONICAL_TABLE)
    assert len(CANONICAL_GAME_NAMES) == 12


@pytest.mark.parametrize("name", sorted(CANONICAL_TABLE))
def test_canonical_game_tables(name: str) -> None:
    game = canonical_game(name)
    assert game.name == name
    assert_2x2(game, CANONICAL_TABLE[name])
    # All 12 are symmetric games: the follower's payoff is the transposed leader's payoff.
    np.testing.assert_array_equal(game.payoffs[..., 1], game.payoffs[..., 0].T)


def test_battle_of_sexes_tables() -> None:
    assert_2x2(battle_of_sexes(), [(1, 0.5), (0, 0), (0, 0), (0.5, 1)])
    assert_2x2(battle_of_sexes(scaled=True), [(2, 1), (0, 0), (0, 0), (1, 2)])


def test_rps_two_players_is_standard_rps() -> None:
    game = rps(2)
    # Rows: player_0 plays R, P, S; columns: player_1 plays R, P, S.
    expected_0 = [[0, -1, 1], [1, 0, -1], [-1, 1, 0]]
    np.testing.assert_array_equal(game.payoffs[..., 0], expected_0)
    np.testing.assert_array_equal(game.payoffs[..., 1], -np.array(expected_0))
    assert game.action_names == ("R", "P", "S")


def test_rps_three_and_four_player_hand_computed_entries() -> None:
    r, p, s = 0, 1, 2
    # (R, R, S): each R beats S (+1) and ties R (0) -> 0.5; S loses twice -> -1.
    np.testing.assert_allclose(rps(3).payoffs[r, r, s], [0.5, 0.5, -1.0])
    np.testing.assert_allclose(rps(3).payoffs[r, p, s], [0.0, 0.0, 0.0])
    # (R, R, P, S): R: 0, -1, +1 -> 0; P: +1, +1, -1 -> 1/3; S: -1, -1, +1 -> -1/3.
    np.testing.assert_allclose(rps(4).payoffs[r, r, p, s], [0.0, 0.0, 1 / 3, -1 / 3])


@pytest.mark.parametrize("num_players", [2, 3, 4])
def test_rps_is_zero_sum_and_symmetric(num_players: int) -> None:
    game = rps(num_players)
    assert game.payoffs.shape == (3,) * num_players + (num_players,)
    np.testing.assert_allclose(game.payoffs.sum(axis=-1), 0.0, atol=1e-12)
    # Swapping players 0 and 1 swaps their payoffs.
    swapped = np.swapaxes(game.payoffs, 0, 1)[..., [1, 0, *range(2, num_players)]]
    np.testing.assert_allclose(swapped, game.payoffs)


@pytest.mark.parametrize("bad", [1, 5, 0, True, "3"])
def test_rps_rejects_bad_player_counts(bad: object) -> None:
    with pytest.raises(ValueError, match=r"num_players must be one of \[2, 3, 4\]"):
        rps(bad)  # type: ignore[arg-type]


def test_unknown_canonical_game_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"'chickn'.*chicken"):
        canonical_game("chickn")


def test_matrix_game_properties_and_transform() -> None:
    game = ipd()
    assert (game.num_players, game.num_actions, game.num_states) == (2, 2, 5)
    assert rps(4).num_states == 1 + 3**4
    np.testing.assert_array_equal(game.transformed_payoffs(1.0, 2.0), (game.payoffs + 1.0) * 2.0)
    np.testing.assert_array_equal(game.flat_payoffs[2], game.payoffs[1, 0])
    np.testing.assert_array_equal(game.payoff((0, 1)), [-1.5, 1.5])


def test_matrix_game_is_read_only_and_copies_its_input() -> None:
    table = np.zeros((2, 2, 2))
    game = MatrixGame("zeros", table, ("C", "D"))
    table[0, 0, 0] = 7.0
    assert game.payoffs[0, 0, 0] == 0.0
    with pytest.raises(ValueError):
        game.payoffs[0, 0, 0] = 1.0
    assert game == MatrixGame("zeros", np.zeros((2, 2, 2)), ("C", "D"))
    assert hash(game) == hash(MatrixGame("zeros", np.zeros((2, 2, 2)), ("C", "D")))
    assert game != ipd()


@pytest.mark.parametrize(
    ("shape", "names"),
    [((2, 2), ("C", "D")), ((2, 2, 3), ("C", "D")), ((2, 3, 2), ("C", "D")), ((3, 3, 2), ("C",))],
)
def test_matrix_game_rejects_bad_shapes(shape: tuple[int, ...], names: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="payoffs must have shape"):
        MatrixGame("bad", np.zeros(shape), names)


def test_two_by_two_state_indices() -> None:
    # Player 0's action is the most significant digit: CC=1, CD=2, DC=3, DD=4.
    assert [joint_action_to_state(a, 2) for a in JOINT_2X2] == [1, 2, 3, 4]
    assert [state_to_joint_action(s, 2, 2) for s in range(1, 5)] == JOINT_2X2
    with pytest.raises(ValueError, match="state must be in"):
        state_to_joint_action(0, 2, 2)


@pytest.mark.parametrize(("num_actions", "num_players"), [(2, 2), (3, 2), (3, 3), (2, 4)])
def test_state_indices_round_trip_and_place_values(num_actions: int, num_players: int) -> None:
    place_values = state_place_values(num_actions, num_players)
    joints = list(itertools.product(range(num_actions), repeat=num_players))
    states = [joint_action_to_state(a, num_actions) for a in joints]
    assert states == list(range(1, 1 + num_actions**num_players))
    assert [1 + int(np.dot(a, place_values)) for a in joints] == states
    assert [state_to_joint_action(s, num_actions, num_players) for s in states] == joints


def test_own_first_permutation_two_players() -> None:
    perm = own_first_state_permutation(2, 2)
    np.testing.assert_array_equal(perm, [[0, 1, 2, 3, 4], [0, 1, 3, 2, 4]])


@pytest.mark.parametrize(("num_actions", "num_players"), [(2, 2), (3, 2), (3, 3), (3, 4), (2, 3)])
def test_own_first_permutation_matches_reordered_joint_action(
    num_actions: int, num_players: int
) -> None:
    perm = own_first_state_permutation(num_actions, num_players)
    assert perm.shape == (num_players, 1 + num_actions**num_players)
    np.testing.assert_array_equal(perm[:, 0], 0)
    np.testing.assert_array_equal(perm[0], np.arange(perm.shape[1]))
    for joint in itertools.product(range(num_actions), repeat=num_players):
        state = joint_action_to_state(joint, num_actions)
        for player in range(num_players):
            others = [joint[j] for j in range(num_players) if j != player]
            seen = joint_action_to_state([joint[player], *others], num_actions)
            assert perm[player, state] == seen
    for row in perm:  # each row is a permutation of the states
        np.testing.assert_array_equal(np.sort(row), np.arange(perm.shape[1]))
