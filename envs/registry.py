"""Stable environment names, their configuration keys and defaults, and :func:`make`.

The registry is one table (:data:`_REGISTRY`) of name -> :class:`EnvSpec`; a new environment family
is a new row. Every config key is checked: unknown keys are refused with the allowed keys and a
did-you-mean suggestion, because a silently ignored typo (``horizn=10``) would run the wrong
experiment. This module must stay free of Ray imports (RLlib registration lives in
``envs.rllib_env``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pettingzoo import ParallelEnv

from envs.matrix.context import ContextQueryEnv
from envs.matrix.games import (
    CANONICAL_CENTER,
    CANONICAL_GAME_NAMES,
    MatrixGame,
    battle_of_sexes,
    canonical_game,
    ipd,
    ipd_lola,
    rps,
)
from envs.matrix.iterated import IteratedMatrixGame
from envs.particle.env import ParticleEnv
from envs.particle.tasks import pacman_world, resource_occupation, treasure_collection


class _Required:
    """Sentinel default of a config key that has no default and must be given."""

    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class EnvSpec:
    """One registry row.

    Attributes:
        builder: Called with every config key as a keyword argument (defaults filled in).
        defaults: Config key -> default (:data:`REQUIRED` when the key must be given).
        fixed: Keys other envs accept that this one fixes, with their value (for error messages).
        description: One line naming the paper setting.
    """

    builder: Callable[..., ParallelEnv]
    defaults: Mapping[str, Any]
    description: str
    fixed: Mapping[str, Any] = field(default_factory=dict)


# Keys every iterated matrix game accepts, with IteratedMatrixGame's defaults.
_ITERATED_DEFAULTS: dict[str, Any] = {
    "reward_offset": 0.0,
    "reward_scale": 1.0,
    "own_first_observation": False,
    "render_mode": None,
}


def _iterated(game: MatrixGame, horizon: int, **common: Any) -> IteratedMatrixGame:
    """Iterated env of ``game``; ``common`` holds the keys of :data:`_ITERATED_DEFAULTS`."""
    return IteratedMatrixGame(game, horizon, **common)


def _check_bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"Config key {key!r} must be a bool (true/false); got {value!r}")
    return value


def _build_ipd(horizon: int, **common: Any) -> IteratedMatrixGame:
    return _iterated(ipd(), horizon, **common)


def _build_ipd_lola(horizon: int, **common: Any) -> IteratedMatrixGame:
    return _iterated(ipd_lola(), horizon, **common)


def _build_rps(num_players: int, horizon: int, **common: Any) -> IteratedMatrixGame:
    return _iterated(rps(num_players), horizon, **common)


def _build_matrix_game(
    game: str, center: bool, horizon: int, reward_offset: float, **common: Any
) -> IteratedMatrixGame:
    # Paper 003 trains on payoffs minus 2.5; centring adds to any user offset before scaling.
    offset = reward_offset - CANONICAL_CENTER * _check_bool("center", center)
    return _iterated(canonical_game(game), horizon, reward_offset=offset, **common)


def _build_matrix_game_context(commit: bool, **config: Any) -> ContextQueryEnv:
    # The game keys are those of "matrix_game"; the wrapper only adds the leader's 5 queries.
    return ContextQueryEnv(_build_matrix_game(**config), commit=_check_bool("commit", commit))


def _build_battle_of_sexes(scaled: bool, **common: Any) -> IteratedMatrixGame:
    return _iterated(battle_of_sexes(_check_bool("scaled", scaled)), 1, **common)


# Keys every particle world accepts (paper 002), with ParticleEnv's defaults.
_PARTICLE_DEFAULTS: dict[str, Any] = {
    "max_cycles": 20,
    "obs_format": "dict",
    "max_agents": None,
    "max_landmarks": None,
    "render_mode": None,
}


def _build_treasure(
    num_agents: int, num_treasures: int, variant: str, **common: Any
) -> ParticleEnv:
    return ParticleEnv(treasure_collection(num_agents, num_treasures, variant), **common)


def _build_resource(
    num_agents: int, num_resources: int, size_rule: str, **common: Any
) -> ParticleEnv:
    return ParticleEnv(resource_occupation(num_agents, num_resources, size_rule), **common)


def _build_pacman(num_pacman: int, num_ghosts: int, num_food: int, **common: Any) -> ParticleEnv:
    return ParticleEnv(pacman_world(num_pacman, num_ghosts, num_food), **common)


def _build_logistic_game(horizon: int, max_step: float) -> ParallelEnv:
    # Imported here: the differentiable games need torch, which `import envs` should not load.
    from envs.differentiable.games import LogisticGame
    from envs.differentiable.learning_env import LearningGameEnv

    return LearningGameEnv(LogisticGame(), horizon, max_step)


def _build_ipd_exact(horizon: int, max_step: float, discount: float) -> ParallelEnv:
    from envs.differentiable.games import ExactIPD
    from envs.differentiable.learning_env import LearningGameEnv

    return LearningGameEnv(ExactIPD(discount), horizon, max_step)


def _build_halfcheetah_2x3(**config: Any) -> ParallelEnv:
    # Imported here: `import envs` must work without the mujoco extra; without it this import
    # raises envs.errors.MissingExtraError, which names the pip command.
    from envs.mujoco.halfcheetah import HalfCheetah2x3

    return HalfCheetah2x3(**config)


def _build_zero_sum_bilinear(horizon: int, max_step: float) -> ParallelEnv:
    from envs.differentiable.games import BilinearZeroSum
    from envs.differentiable.learning_env import LearningGameEnv

    return LearningGameEnv(BilinearZeroSum(), horizon, max_step)


def _build_atari_trade(**config: Any) -> ParallelEnv:
    # Cheap without the atari extra: the emulator is imported when the env is built.
    from envs.atari.trade import AtariTradeEnv

    return AtariTradeEnv(**config)


# AtariTradeEnv's keyword arguments and defaults (tests/envs/atari checks they agree).
_ATARI_TRADE_DEFAULTS: dict[str, Any] = {
    "bullet_rate": 0.05,
    "max_bullets": 5,
    "frame_skip": 4,
    "max_cycles": 1000,
    "obs_type": "ram",
    "frame_stack": 4,
    "frame_size": 84,
    "seller_kill_reward": 0.1,
    "buyer_kill_reward": 1.0,
    "render_mode": None,
}


_REGISTRY: dict[str, EnvSpec] = {
    "ipd": EnvSpec(
        _build_ipd,
        {"horizon": 150, **_ITERATED_DEFAULTS},
        "Iterated Prisoner's Dilemma, Meta-MAPG payoffs (paper 001, Table 1)",
    ),
    "ipd_lola": EnvSpec(
        _build_ipd_lola,
        {"horizon": 150, **_ITERATED_DEFAULTS},
        "Iterated Prisoner's Dilemma on the LOLA / MeVa scale (paper 004)",
    ),
    "rps": EnvSpec(
        _build_rps,
        {"num_players": 2, "horizon": 150, **_ITERATED_DEFAULTS},
        "Iterated rock-paper-scissors, 2-4 players (paper 001, Table 2 and Fig. 4b)",
    ),
    "matrix_game": EnvSpec(
        _build_matrix_game,
        {"game": REQUIRED, "center": False, "horizon": 10, **_ITERATED_DEFAULTS},
        f"One of the 12 canonical symmetric 2x2 games (paper 003): {list(CANONICAL_GAME_NAMES)}",
    ),
    "matrix_game_context": EnvSpec(
        _build_matrix_game_context,
        {"game": REQUIRED, "center": False, "horizon": 10, "commit": True, **_ITERATED_DEFAULTS},
        "A canonical 2x2 game after 5 leader state queries whose answers are the follower's "
        "context (paper 003, section 3 and Algorithm 1)",
    ),
    "battle_of_sexes": EnvSpec(
        _build_battle_of_sexes,
        {"scaled": False, **_ITERATED_DEFAULTS},
        "Single-shot Battle of the Sexes (paper 003, Appendix B)",
        fixed={"horizon": 1},
    ),
    "treasure_collection": EnvSpec(
        _build_treasure,
        {"num_agents": 6, "num_treasures": 20, "variant": "dense", **_PARTICLE_DEFAULTS},
        "Treasure collection, populations 3/6/12/24 (+48 eval), dense or sparse (paper 002, E.1)",
    ),
    "resource_occupation": EnvSpec(
        _build_resource,
        {"num_agents": 6, "num_resources": 6, "size_rule": "paper", **_PARTICLE_DEFAULTS},
        "Resource occupation, populations 6/9/12/15 (paper 002, E.1)",
    ),
    "pacman_world": EnvSpec(
        _build_pacman,
        {"num_pacman": 4, "num_ghosts": 2, "num_food": 20, **_PARTICLE_DEFAULTS},
        "Pac-Man vs ghosts, (4,2)/(6,3)/(8,4) (+(2,8) eval), EPC grassland rules (paper 002, E.1)",
    ),
    "logistic_game": EnvSpec(
        _build_logistic_game,
        {"horizon": 50, "max_step": 1.0},
        "Learning game of the Logistic Game: state x, action dx, reward f(x + dx) (paper 004, "
        "Eq. 8 and section 3.2)",
    ),
    "ipd_exact": EnvSpec(
        _build_ipd_exact,
        {"horizon": 100, "max_step": 1.0, "discount": 0.96},
        "Learning game of LOLA's exact IPD, 5 memory-one logits per player, normalised "
        "discounted value (paper 004, sections 3.2 and 5.2)",
    ),
    "halfcheetah_2x3": EnvSpec(
        _build_halfcheetah_2x3,
        {
            "horizon": 200,
            "direction": 1,
            "observation": "full",
            "reward_scale": 1.0,
            "render_mode": None,
        },
        "2-agent HalfCheetah (MaMuJoCo 2x3: back leg player_0, front leg player_1), shared "
        "reward, full-state observations, H = 200 (paper 001, section 5 and Fig. 2d; needs the "
        "mujoco extra)",
    ),
    "zero_sum_bilinear": EnvSpec(
        _build_zero_sum_bilinear,
        {"horizon": 50, "max_step": 1.0},
        "Learning game of the bilinear zero-sum game f_1 = x_1 x_2 = -f_2 (paper 000, "
        "Appendix C; paper 004, section 3.2)",
    ),
    "atari_trade": EnvSpec(
        _build_atari_trade,
        _ATARI_TRADE_DEFAULTS,
        "Bilateral trade on 2-player Space Invaders: the seller receives bullets and offers them "
        "at 5 prices, kills pay the seller 0.1 and the buyer 1.0 (paper 003, section 4; needs "
        "the atari extra)",
    ),
}


def env_names() -> list[str]:
    """Every registered environment name, sorted."""
    return sorted(_REGISTRY)


def env_config_keys(name: str) -> dict[str, Any]:
    """Config keys accepted by ``name`` with their defaults (:data:`REQUIRED` if none)."""
    return dict(_spec(name).defaults)


def env_description(name: str) -> str:
    """One-line description of ``name`` naming the paper setting."""
    return _spec(name).description


def make(name: str, **env_config: Any) -> ParallelEnv:
    """Build the PettingZoo parallel env registered as ``name`` with ``env_config``.

    Raises:
        ValueError: unknown ``name``, unknown or missing config keys, or invalid values.
    """
    spec = _spec(name)
    _check_config_keys(name, spec, env_config)
    return spec.builder(**{**spec.defaults, **env_config})


def _spec(name: str) -> EnvSpec:
    if name not in _REGISTRY:
        raise ValueError(
            f"Unknown env {name!r}{_did_you_mean(name, _REGISTRY)}; allowed: {env_names()}"
        )
    return _REGISTRY[name]


def _check_config_keys(name: str, spec: EnvSpec, env_config: Mapping[str, Any]) -> None:
    """Refuse unknown keys (with a hint) and missing required keys."""
    allowed = sorted(spec.defaults)
    for key in sorted(env_config):
        if key in spec.fixed:
            raise ValueError(
                f"Config key {key!r} is fixed at {spec.fixed[key]!r} for env "
                f"{name!r}; allowed keys: {allowed}"
            )
        if key not in spec.defaults:
            raise ValueError(
                f"Unknown config key {key!r} for env {name!r}"
                f"{_did_you_mean(key, allowed)}; allowed keys: {allowed}"
            )
    missing = sorted(k for k, v in spec.defaults.items() if v is REQUIRED and k not in env_config)
    if missing:
        raise ValueError(
            f"Missing required config key(s) {missing} for env {name!r}; allowed keys: {allowed}"
        )


def _did_you_mean(word: str, candidates: Mapping[str, Any] | list[str]) -> str:
    close = difflib.get_close_matches(str(word), list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# Read-only view for callers that want to list the table (e.g. a CLI `list` command).
REGISTRY: Mapping[str, EnvSpec] = MappingProxyType(_REGISTRY)
