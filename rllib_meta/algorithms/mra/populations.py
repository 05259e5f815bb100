"""The training games (MGs) of MRA: one particle world at several populations (paper 002,
section 7 and App. E.1).

``training_populations`` lists the populations of ``config.env``: agent counts for treasure
collection and resource occupation (``[6, 9, 12]``), ``[pacman, ghosts]`` pairs for the
Pac-Man world (``[[4, 2], [6, 3], [8, 4]]``). Every other env key (resources, treasures,
``max_cycles``, ...) comes from ``env_config`` and is shared by all games; the population
keys of ``env_config`` are replaced by each game's. All games are padded to the largest
population's agent and landmark counts, so one network reads them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import envs
from envs.particle.batched import BatchedParticleWorld
from envs.particle.tasks import Task, WorldState

# The env keys a population sets, per supported env.
POPULATION_KEYS: dict[str, tuple[str, ...]] = {
    "resource_occupation": ("num_agents",),
    "treasure_collection": ("num_agents",),
    "pacman_world": ("num_pacman", "num_ghosts"),
}
EXAMPLES = {
    "resource_occupation": "[6, 9, 12]",
    "treasure_collection": "[3, 6, 12, 24]",
    "pacman_world": "[[4, 2], [6, 3], [8, 4]]",
}
KEY = "training_populations"


@dataclass(frozen=True)
class Game:
    """One training MG: its index ``m`` (the classifier's label), population and rules."""

    index: int
    population: tuple[int, ...]
    task: Task
    max_cycles: int

    @property
    def label(self) -> str:
        """A metric-friendly name: ``n6`` (agents) or ``p4_g2`` (Pac-Man, ghosts)."""
        if len(self.population) == 1:
            return f"n{self.population[0]}"
        return "_".join(
            f"{role[0]}{count}"
            for role, count in zip(self.task.role_names, self.population, strict=True)
        )


def _as_population(env: str, entry: Any, position: int, key: str) -> tuple[int, ...]:
    keys = POPULATION_KEYS[env]
    values = entry if isinstance(entry, list | tuple) else [entry]
    well_formed = len(values) == len(keys) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    )
    if not well_formed:
        raise ValueError(
            f"{key}[{position}] must be {' '.join(keys)} for env {env!r} (e.g. "
            f"{key}: {EXAMPLES[env]}), got {entry!r}."
        )
    return tuple(int(v) for v in values)


def training_games(
    env: str, env_config: Mapping[str, Any], populations: Any, key: str = KEY
) -> list[Game]:
    """The MGs of ``populations`` on ``env``; refuses, naming ``key`` (the setting), an
    empty or malformed list, a repeated population and a population the env refuses."""
    if env not in POPULATION_KEYS:
        raise ValueError(f"env must be one of {sorted(POPULATION_KEYS)}, got {env!r}.")
    if not isinstance(populations, list | tuple) or not populations:
        raise ValueError(
            f"{key} must be a non-empty list of populations of {env!r} (e.g. {EXAMPLES[env]}), "
            f"got {populations!r}."
        )
    games: list[Game] = []
    for position, entry in enumerate(populations):
        population = _as_population(env, entry, position, key)
        if any(game.population == population for game in games):
            raise ValueError(f"{key} lists population {list(population)} twice.")
        settings = {**dict(env_config), **dict(zip(POPULATION_KEYS[env], population, strict=True))}
        try:
            particle_env = envs.make(env, **settings)
        except ValueError as error:
            raise ValueError(
                f"{key}[{position}] = {entry!r} is refused by env {env!r}: {error}"
            ) from None
        games.append(Game(position, population, particle_env.task, particle_env.world.max_cycles))
        particle_env.close()
    return games


def padding(games: Sequence[Game]) -> dict[str, int]:
    """``max_agents`` / ``max_landmarks`` that give every game one observation shape."""
    return {
        "max_agents": max(game.task.num_agents for game in games),
        "max_landmarks": max(game.task.num_landmarks for game in games),
    }


# What a replay buffer stores of a world's state (per transition: one step of one game, all
# agents): far less than the observations (at N = 12, 72 numbers instead of about 1300), which
# :func:`observe_states` rebuilds with the env's own observation code.
STATE_KEYS = ("pos", "vel", "active", "landmark_pos")


def world_state(world: BatchedParticleWorld) -> dict[str, np.ndarray]:
    """Copies of the state arrays of ``world`` that determine its observations."""
    return {key: getattr(world.state, key).copy() for key in STATE_KEYS}


def observe_states(
    game: Game, max_agents: int, max_landmarks: int, states: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The observations ``(B, N, ...)`` of ``B`` stored states of ``game`` (see
    :func:`world_state`), padded like the sampling worlds: the batched core's own ``observe``
    on a world that holds these states."""
    count = len(states["pos"])
    world = BatchedParticleWorld(
        game.task, count, max_agents=max_agents, max_landmarks=max_landmarks
    )
    world.state = WorldState(
        pos=np.asarray(states["pos"]),
        vel=np.asarray(states["vel"]),
        active=np.asarray(states["active"]),
        landmark_pos=np.asarray(states["landmark_pos"]),
        steps=np.zeros(count, np.int64),
    )
    return world.observe()
