"""Iterated matrix games: payoff tables, PettingZoo env, batched torch core, exact values,
persona populations.

One definition of the rules (:mod:`envs.matrix.games`) feeds the PettingZoo parallel env
(:mod:`envs.matrix.iterated`), the batched torch core (:mod:`envs.matrix.batched`) and the exact
evaluator of 2-player memory-one policies (:mod:`envs.matrix.exact`).
:mod:`envs.matrix.personas` holds the populations of tabular peer policies over the same states
(the persona populations of paper 001, shipped in ``envs/matrix/data``; imported on demand).
"""

from envs.matrix.batched import BatchedIteratedMatrixGame
from envs.matrix.games import (
    CANONICAL_GAME_NAMES,
    MatrixGame,
    battle_of_sexes,
    canonical_game,
    ipd,
    ipd_lola,
    own_first_state_permutation,
    rps,
)
from envs.matrix.iterated import IteratedMatrixGame

__all__ = [
    "CANONICAL_GAME_NAMES",
    "BatchedIteratedMatrixGame",
    "IteratedMatrixGame",
    "MatrixGame",
    "battle_of_sexes",
    "canonical_game",
    "ipd",
    "ipd_lola",
    "own_first_state_permutation",
    "rps",
]
