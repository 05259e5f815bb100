"""Payoff tables of the matrix games and the one state-indexing convention shared by every user.

This module is the single definition of the rules: the PettingZoo env
(:mod:`envs.matrix.iterated`), the batched torch core (:mod:`envs.matrix.batched`) and the exact
evaluator (:mod:`envs.matrix.exact`) all read :attr:`MatrixGame.payoffs` and the state functions
below, so they cannot disagree.

Payoff layout: ``payoffs[a_0, ..., a_{n-1}, i]`` is player ``i``'s payoff for the joint action
``(a_0, ..., a_{n-1})``; action 0 is the first named action (C in dilemmas, R in
rock-paper-scissors).

State convention (memory-one iterated games): state 0 is the start state (no previous action);
after joint action ``a`` the state is ``1 + ravel_multi_index(a, (A,) * n)`` with player 0's action
most significant. For 2 players and 2 actions: start=0, CC=1, CD=2, DC=3, DD=4. With "own-first"
observations player ``i`` observes the joint action reordered as ``(a_i, then the other players in
increasing order)``; :func:`own_first_state_permutation` maps canonical to observed states.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

START_STATE = 0
DILEMMA_ACTIONS = ("C", "D")
RPS_ACTIONS = ("R", "P", "S")
RPS_PLAYER_COUNTS = (2, 3, 4)

# Robinson & Goforth's 12 symmetric 2x2 games as used by Gerstgrasser & Parkes (paper 003) and
# "The Good Shepherd": ordinal payoffs 1..4 given as (CC, CD, DC, DD), each (player_0, player_1)
# with player_0 the leader (row) and player_1 the follower (column).
_CANONICAL_PAYOFFS: dict[str, tuple[tuple[int, int], ...]] = {
    "prisoners_dilemma": ((3, 3), (1, 4), (4, 1), (2, 2)),
    "stag_hunt": ((4, 4), (1, 3), (3, 1), (2, 2)),
    "assurance": ((4, 4), (1, 2), (2, 1), (3, 3)),
    "coordination": ((4, 4), (2, 1), (1, 2), (3, 3)),
    "mixed_harmony": ((4, 4), (3, 1), (1, 3), (2, 2)),
    "harmony": ((4, 4), (3, 2), (2, 3), (1, 1)),
    "no_conflict": ((4, 4), (2, 3), (3, 2), (1, 1)),
    "deadlock": ((2, 2), (1, 4), (4, 1), (3, 3)),
    "prisoners_delight": ((1, 1), (2, 4), (4, 2), (3, 3)),
    "hero": ((1, 1), (3, 4), (4, 3), (2, 2)),
    "battle": ((2, 2), (3, 4), (4, 3), (1, 1)),
    "chicken": ((3, 3), (2, 4), (4, 2), (1, 1)),
}
CANONICAL_GAME_NAMES: tuple[str, ...] = tuple(sorted(_CANONICAL_PAYOFFS))

# Midpoint of the ordinal 1..4 scale; paper 003 trains on payoffs minus this (-1.5 .. 1.5).
CANONICAL_CENTER = 2.5


@dataclass(frozen=True)
class MatrixGame:
    """A normal-form game with ``n`` players sharing one action set of size ``A``.

    Attributes:
        name: Short identifier, e.g. ``"ipd"``.
        payoffs: Read-only float64 array of shape ``(A,) * n + (n,)``;
            ``payoffs[a_0, ..., a_{n-1}, i]`` is player ``i``'s payoff.
        action_names: One short name per action, action 0 first.
    """

    name: str
    payoffs: np.ndarray
    action_names: tuple[str, ...]

    def __post_init__(self) -> None:
        # Own a private read-only copy so no caller can change the rules after construction.
        payoffs = np.array(self.payoffs, dtype=np.float64)
        _check_payoff_shape(payoffs, len(self.action_names), self.name)
        payoffs.setflags(write=False)
        object.__setattr__(self, "payoffs", payoffs)
        object.__setattr__(self, "action_names", tuple(self.action_names))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MatrixGame):
            return NotImplemented
        return (
            self.name == other.name
            and self.action_names == other.action_names
            and np.array_equal(self.payoffs, other.payoffs)
        )

    def __hash__(self) -> int:
        return hash((self.name, self.action_names, self.payoffs.tobytes()))

    @property
    def num_players(self) -> int:
        """Number of players ``n``."""
        return self.payoffs.ndim - 1

    @property
    def num_actions(self) -> int:
        """Number of actions ``A`` of every player."""
        return self.payoffs.shape[0]

    @property
    def num_states(self) -> int:
        """Number of memory-one states: the start state plus one per joint action."""
        return 1 + self.num_actions**self.num_players

    @property
    def flat_payoffs(self) -> np.ndarray:
        """Payoffs as ``(A**n, n)``, row ``k`` = joint action of state ``k + 1`` (read-only)."""
        return self.payoffs.reshape(-1, self.num_players)

    def transformed_payoffs(self, offset: float, scale: float) -> np.ndarray:
        """Return ``(payoffs + offset) * scale``, the rewards an env with these settings pays."""
        return (self.payoffs + offset) * scale

    def payoff(self, joint_action: Sequence[int]) -> np.ndarray:
        """Raw payoff vector ``(n,)`` of one joint action."""
        return self.payoffs[tuple(joint_action)]


def _check_payoff_shape(payoffs: np.ndarray, num_actions: int, name: str) -> None:
    """Raise ValueError unless ``payoffs`` has shape ``(A,) * n + (n,)`` with ``n >= 2``."""
    num_players = payoffs.ndim - 1
    expected = (num_actions,) * num_players + (num_players,)
    if num_players < 2 or num_actions < 2 or payoffs.shape != expected:
        raise ValueError(
            f"Game {name!r}: payoffs must have shape (A,)*n + (n,) with n >= 2 players and "
            f"A = len(action_names) >= 2 actions; got shape {payoffs.shape} with "
            f"A = {num_actions}"
        )


# ---------------------------------------------------------------------------------------------
# Named games
# ---------------------------------------------------------------------------------------------


def _two_by_two(
    name: str,
    cc: Sequence[float],
    cd: Sequence[float],
    dc: Sequence[float],
    dd: Sequence[float],
) -> MatrixGame:
    """Build a 2-player C/D game from its four (player_0, player_1) payoff pairs."""
    return MatrixGame(name, np.array([[cc, cd], [dc, dd]], dtype=np.float64), DILEMMA_ACTIONS)


def ipd() -> MatrixGame:
    """Prisoner's Dilemma with the Meta-MAPG payoffs (Kim et al., paper 001, Table 1).

    CC (0.5, 0.5), CD (-1.5, 1.5), DC (1.5, -1.5), DD (-0.5, -0.5); these are LOLA's payoffs
    shifted by +1.5 (see :func:`ipd_lola`).
    """
    return _two_by_two("ipd", (0.5, 0.5), (-1.5, 1.5), (1.5, -1.5), (-0.5, -0.5))


def ipd_lola() -> MatrixGame:
    """Prisoner's Dilemma on the LOLA / MeVa scale (Foerster et al. 2018; paper 004, section 4).

    CC (-1, -1), CD (-3, 0), DC (0, -3), DD (-2, -2): mutual cooperation -1, mutual defection -2.
    """
    return _two_by_two("ipd_lola", (-1, -1), (-3, 0), (0, -3), (-2, -2))


def rps(num_players: int = 2) -> MatrixGame:
    """Rock-paper-scissors for 2 to 4 players (paper 001, Table 2 and Fig. 4b).

    Each player's reward is the mean, over the other players, of its pairwise RPS outcome against
    that player (+1 win, -1 loss, 0 tie). For 2 players this is standard zero-sum RPS; for any
    ``n`` the game stays zero-sum because every pairwise outcome is antisymmetric and each pair
    enters both players' means with the same weight ``1 / (n - 1)``. The paper's 3- and 4-player
    variants (Fig. 4b) give no payoff definition; this is the one chosen here.
    """
    if isinstance(num_players, bool) or num_players not in RPS_PLAYER_COUNTS:
        raise ValueError(
            f"rps num_players must be one of {list(RPS_PLAYER_COUNTS)}; got {num_players!r}"
        )
    # actions[i] is player i's action in every joint action, shape (n, 3, ..., 3).
    actions = np.indices((len(RPS_ACTIONS),) * num_players)
    # (a_i - a_j) mod 3 is 1 when i beats j (P>R, S>P, R>S), 2 when i loses, 0 on a tie.
    outcome_of_difference = np.array([0.0, 1.0, -1.0])
    pairwise = outcome_of_difference[(actions[:, None] - actions[None, :]) % 3]
    # The diagonal j == i is a tie (0), so summing over all j equals summing over the others.
    mean_outcome = pairwise.sum(axis=1) / (num_players - 1)
    payoffs = np.moveaxis(mean_outcome, 0, -1)
    name = "rps" if num_players == 2 else f"rps_{num_players}p"
    return MatrixGame(name, payoffs, RPS_ACTIONS)


def canonical_game(name: str) -> MatrixGame:
    """One of the 12 canonical symmetric 2x2 games (Robinson & Goforth; paper 003, section 5).

    Ordinal payoffs 1..4 as in ``_CANONICAL_PAYOFFS``, player_0 = leader (row),
    player_1 = follower (column). Training rewards in paper 003 subtract
    :data:`CANONICAL_CENTER` (2.5); pass that as an offset rather than changing the table.
    """
    if name not in _CANONICAL_PAYOFFS:
        raise ValueError(f"Unknown canonical game {name!r}; allowed: {list(CANONICAL_GAME_NAMES)}")
    return _two_by_two(name, *_CANONICAL_PAYOFFS[name])


def battle_of_sexes(scaled: bool = False) -> MatrixGame:
    """Single-shot Battle of the Sexes of paper 003, Appendix B (from the authors' code).

    (C, C) = (1, 0.5), (D, D) = (0.5, 1), off-diagonal (0, 0). ``scaled=True`` doubles every
    payoff, giving (2, 1) / (1, 2), the copy used with the tabular Q-learning follower.
    """
    factor = 2.0 if scaled else 1.0
    return _two_by_two(
        "battle_of_sexes_scaled" if scaled else "battle_of_sexes",
        (factor * 1.0, factor * 0.5),
        (0.0, 0.0),
        (0.0, 0.0),
        (factor * 0.5, factor * 1.0),
    )


def check_horizon(horizon: int) -> int:
    """Return ``horizon`` as an int, or raise ValueError unless it is an integer >= 1."""
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1; got {horizon!r}")
    return int(horizon)


# ---------------------------------------------------------------------------------------------
# State indexing (one definition for env, batched core and exact evaluator)
# ---------------------------------------------------------------------------------------------


def state_place_values(num_actions: int, num_players: int) -> np.ndarray:
    """Place value of each player's action in the joint index: ``A**(n-1-i)`` (player 0 first).

    ``state = 1 + joint_action @ state_place_values(A, n)`` for any batch of joint actions.
    """
    return num_actions ** np.arange(num_players - 1, -1, -1, dtype=np.int64)


def joint_action_to_state(joint_action: Sequence[int], num_actions: int) -> int:
    """Canonical state after ``joint_action``: ``1 + ravel_multi_index`` (player 0 first)."""
    shape = (num_actions,) * len(joint_action)
    return 1 + int(np.ravel_multi_index(tuple(joint_action), shape))


def state_to_joint_action(state: int, num_actions: int, num_players: int) -> tuple[int, ...]:
    """Inverse of :func:`joint_action_to_state`; state 0 (start) has no joint action."""
    if not 1 <= state <= num_actions**num_players:
        raise ValueError(
            f"state must be in [1, {num_actions**num_players}] to have a joint action; got {state}"
        )
    shape = (num_actions,) * num_players
    return tuple(int(a) for a in np.unravel_index(state - 1, shape))


def own_first_state_permutation(num_actions: int, num_players: int) -> np.ndarray:
    """For each player, the state it observes in each canonical state: shape ``(n, S)``.

    Player ``i`` sees the previous joint action reordered as ``(a_i, a_j for j != i in increasing
    order)``, so every player can use the same "my action first" table. Row ``i`` maps canonical
    state ``s`` to observed state ``perm[i, s]``; state 0 (start) maps to 0 and row 0 is the
    identity. For 2 players row 1 swaps the two actions (CD <-> DC).
    """
    num_joint = num_actions**num_players
    # joint[:, k] is the joint action of canonical state k + 1, shape (n, A**n).
    joint = np.stack(np.unravel_index(np.arange(num_joint), (num_actions,) * num_players))
    players = np.arange(num_players)
    # orders[i] = (i, the others ascending): stable argsort puts player i's key (-1) first.
    orders = np.argsort(
        np.where(players[None, :] == players[:, None], -1, players), axis=1, kind="stable"
    )
    reordered = joint[orders]  # (n, n, A**n): player i's view of every joint action
    observed = 1 + np.einsum("j,ijk->ik", state_place_values(num_actions, num_players), reordered)
    start = np.zeros((num_players, 1), dtype=np.int64)
    return np.concatenate([start, observed], axis=1)
