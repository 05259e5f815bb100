"""The particle-world tasks of paper 002 (MRA, Appendix E.1), as vectorised rules.

A task fixes the agents (roles, counts, bodies), the landmarks (items or resources and their
sizes), and a reward rule evaluated on B environments at once. The same objects drive the
batched core (:mod:`envs.particle.batched`) and the PettingZoo env (:mod:`envs.particle.env`),
so both play by one definition of the rules.

Common rules (paper 002, E.1, and the MPE code it builds on): episodes of 20 steps,
discrete actions (no-op, +-x, +-y), agents and items start uniformly in ``[-1, 1]^2``, items
respawn uniformly in ``[-1, 1]^2`` in the step they are taken. Rules the paper leaves open, and
that we chose, are listed in each task's docstring. Throughout, "touching" means the two circles
overlap: ``|p_a - p_l| < r_a + r_l``, tested on the positions *after* the physics step; shaping
distances use the same positions (before items respawn).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from envs.particle.core import AgentBodies, make_bodies, pairwise_distances

NUM_ROLES = 2  # every task's observation carries a 2-wide role one-hot (Pac-Man/ghost, or 1/0)
SIZE_RULES = ("paper", "code")
TREASURE_VARIANTS = ("dense", "sparse")
SHAPING = 0.1  # distance-shaping coefficient (EPC grassland's 0.1; reused for treasures)


@dataclass
class WorldState:
    """Mutable state of B environments: agents ``(B, N, ...)``, landmarks ``(B, L, 2)``."""

    pos: np.ndarray
    vel: np.ndarray
    active: np.ndarray
    landmark_pos: np.ndarray
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass(frozen=True)
class Task:
    """A particle task at one population: static layout plus a vectorised reward rule.

    Attributes:
        name: Registry name.
        role_names: Agent-name prefix of each role, e.g. ``("pacman", "ghost")``.
        role_counts: Agents per role (the population; agents are ordered role by role).
        bodies: Physical properties of the ``N = sum(role_counts)`` agents.
        landmark_sizes: ``(L,)`` radii of the items or resources.
    """

    name: str
    role_names: tuple[str, ...]
    role_counts: tuple[int, ...]
    bodies: AgentBodies
    landmark_sizes: np.ndarray

    @property
    def num_agents(self) -> int:
        return int(sum(self.role_counts))

    @property
    def num_landmarks(self) -> int:
        return len(self.landmark_sizes)

    @property
    def roles(self) -> np.ndarray:
        """``(N,)`` role index of each agent."""
        return np.repeat(np.arange(len(self.role_counts)), self.role_counts)

    @property
    def agent_names(self) -> list[str]:
        return [
            f"{name}_{k}"
            for name, count in zip(self.role_names, self.role_counts, strict=True)
            for k in range(count)
        ]

    def descriptor(self) -> np.ndarray:
        """Game descriptor m (paper 002, Alg. 4): agents per role (2 slots) and landmark count."""
        counts = list(self.role_counts) + [0] * (NUM_ROLES - len(self.role_counts))
        return np.array([*counts, self.num_landmarks], dtype=np.float64)

    def rewards(self, state: WorldState, rng: np.random.Generator) -> np.ndarray:
        """``(B, N)`` rewards of the step just integrated; may respawn items / deactivate."""
        raise NotImplementedError


def respawn(landmark_pos: np.ndarray, taken: np.ndarray, rng: np.random.Generator) -> None:
    """Move the taken items (``taken``: ``(B, L)`` bool) to fresh uniform places in place."""
    count = int(taken.sum())
    if count:
        landmark_pos[taken] = rng.uniform(-1.0, 1.0, (count, 2)).astype(landmark_pos.dtype)


def touching(dist: np.ndarray, size_a: np.ndarray, size_b: np.ndarray) -> np.ndarray:
    """``(B, N, M)`` circle overlap from distances and the radii of both sides."""
    return dist < (size_a[:, None] + size_b[None, :])


@dataclass(frozen=True)
class TreasureCollection(Task):
    """Collectors and respawning treasures (paper 002, E.1 "Treasure Collection").

    The authors' version is not public; rules chosen here (after MAAC's collect-treasure without
    deposits, on EPC's scale): collectors have MPE default bodies (radius 0.05, accel 5, no speed
    limit) and collide with each other; 20 treasures (paper Fig. 2a) of radius 0.025 do not
    collide. A treasure touched by k collectors pays 1/k to each of them (one collection is worth
    1 in total) and respawns. ``dense`` adds ``-0.1 * distance to the nearest treasure`` each
    step; ``sparse`` pays collections only (the paper's sparse-reward game, Fig. 4a).
    """

    dense: bool = True

    def rewards(self, state: WorldState, rng: np.random.Generator) -> np.ndarray:
        dist = pairwise_distances(state.pos, state.landmark_pos)
        touch = touching(dist, self.bodies.size, self.landmark_sizes)
        takers = touch.sum(axis=1)  # (B, T)
        reward = (touch / np.maximum(takers, 1)[:, None, :]).sum(axis=2)
        if self.dense:
            reward = reward - SHAPING * dist.min(axis=2)
        respawn(state.landmark_pos, takers > 0, rng)
        return reward


@dataclass(frozen=True)
class ResourceOccupation(Task):
    """Agents occupying resource landmarks of increasing size (paper 002, E.1).

    Every step an agent touching resource l earns ``10 * r_l / n_l`` with ``n_l`` the number of
    agents touching l; an agent touching several (overlapping)
    resources earns from each. No shaping. Resources are placed uniformly in ``[-1, 1]^2`` at
    reset and stay there; they do not collide. Agents: MPE default bodies, colliding.
    Size rule ``paper``: radii 0.1, 0.2, ..., 0.1 n (E.1); ``code``: 0.05 (i + 1), i = 0..n-1
    (the authors' code). The default 6 resources follow the paper's figures (Fig. 2b: 12 agents
    in the 6-resource environment; Fig. 7).
    """

    def rewards(self, state: WorldState, rng: np.random.Generator) -> np.ndarray:
        dist = pairwise_distances(state.pos, state.landmark_pos)
        on = touching(dist, self.bodies.size, self.landmark_sizes)
        occupants = on.sum(axis=1, keepdims=True)  # (B, 1, L)
        value = 10.0 * self.landmark_sizes / np.maximum(occupants, 1)
        return (on * value).sum(axis=2)


@dataclass(frozen=True)
class PacmanWorld(Task):
    """Pac-Man and ghosts with respawning food (paper 002, E.1; EPC "grassland" rules).

    Rules (paper 002, E.1, the EPC "grassland" rules, and our choices where they are silent):
    - bodies from MPE's predator-prey: Pac-Man radius 0.05, accel 4, max speed 1.3; ghosts
      radius 0.075, accel 3, max speed 1.0; everyone collides; 20 food dots of radius 0.03.
    - Pac-Man: +2 for every food dot it touches (shared 2/k when k Pac-Man touch the same dot,
      which then respawns at once), -5 when caught, and ``-0.1 * distance to the nearest
      food`` each step while active.
    - A Pac-Man is caught when an active ghost touches it; from the next step on it is inactive
      (frozen, no collisions, no reward, removed from the PettingZoo env's agents). It may still
      eat in its capture step.
    - ghost: +5 for every Pac-Man it touches in the step that Pac-Man is caught (every touching
      ghost gets the 5), and ``-0.1 * distance to the nearest active Pac-Man`` (0 when none).
    - The episode ends (terminated) once every Pac-Man is caught; otherwise after 20 steps.
    """

    def rewards(self, state: WorldState, rng: np.random.Generator) -> np.ndarray:
        n_pac = self.role_counts[0]
        pos, size = state.pos, self.bodies.size
        pac_pos, ghost_pos = pos[:, :n_pac], pos[:, n_pac:]
        pac_alive = state.active[:, :n_pac]
        ghost_alive = state.active[:, n_pac:]

        food_dist = pairwise_distances(pac_pos, state.landmark_pos)  # (B, P, F)
        eats = touching(food_dist, size[:n_pac], self.landmark_sizes) & pac_alive[:, :, None]
        eaters = eats.sum(axis=1)
        pac_reward = 2.0 * (eats / np.maximum(eaters, 1)[:, None, :]).sum(axis=2)
        pac_reward -= SHAPING * food_dist.min(axis=2)

        chase_dist = pairwise_distances(ghost_pos, pac_pos)  # (B, G, P)
        catch = touching(chase_dist, size[n_pac:], size[:n_pac])
        catch &= ghost_alive[:, :, None] & pac_alive[:, None, :]
        caught = catch.any(axis=1)  # (B, P)
        pac_reward -= 5.0 * caught
        ghost_reward = 5.0 * catch.sum(axis=2)
        nearest = np.where(pac_alive[:, None, :], chase_dist, np.inf).min(axis=2)
        ghost_reward -= SHAPING * np.where(np.isfinite(nearest), nearest, 0.0)

        reward = np.concatenate([np.where(pac_alive, pac_reward, 0.0), ghost_reward], axis=1)
        respawn(state.landmark_pos, eaters > 0, rng)
        state.active[:, :n_pac] &= ~caught
        return reward


@dataclass(frozen=True)
class Spread(Task):
    """A simple-spread-like task for the benchmark (MPE ``simple_spread``, ``local_ratio`` 0.5).

    N agents of radius 0.15 (colliding), N landmarks; reward per agent
    ``0.5 * (-sum_l min_i |p_i - p_l|) + 0.5 * (-(number of other agents it touches))``.
    Not registered as an env: it exists to compare throughput with mpe2's ``simple_spread_v3``.
    """

    def rewards(self, state: WorldState, rng: np.random.Generator) -> np.ndarray:
        global_term = -pairwise_distances(state.pos, state.landmark_pos).min(axis=1).sum(axis=1)
        agent_dist = pairwise_distances(state.pos, state.pos)
        contact = touching(agent_dist, self.bodies.size, self.bodies.size)
        collisions = contact.sum(axis=2) - 1  # minus the agent itself
        return 0.5 * global_term[:, None] - 0.5 * collisions


# -- constructors with validation -----------------------------------------------------------


def _check_int(key: str, value: object, low: int, high: int) -> int:
    is_int = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not is_int or not low <= value <= high:
        raise ValueError(f"{key} must be an integer in [{low}, {high}]; got {value!r}")
    return int(value)


def _check_choice(key: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{key} must be one of {list(allowed)}; got {value!r}")
    return str(value)


MAX_AGENTS = 512


def _uniform_bodies(n: int, size: float, accel: float, max_speed: float | None) -> AgentBodies:
    return make_bodies([size] * n, [accel] * n, [max_speed] * n)


def treasure_collection(
    num_agents: int, num_treasures: int = 20, variant: str = "dense"
) -> TreasureCollection:
    """Treasure collection with ``num_agents`` collectors (paper: 3, 6, 12, 24; eval 48)."""
    n = _check_int("num_agents", num_agents, 1, MAX_AGENTS)
    t = _check_int("num_treasures", num_treasures, 1, MAX_AGENTS)
    variant = _check_choice("variant", variant, TREASURE_VARIANTS)
    return TreasureCollection(
        name="treasure_collection",
        role_names=("collector",),
        role_counts=(n,),
        bodies=_uniform_bodies(n, 0.05, 5.0, None),
        landmark_sizes=np.full(t, 0.025),
        dense=variant == "dense",
    )


def resource_sizes(num_resources: int, size_rule: str) -> np.ndarray:
    """Radii of the resources: ``paper`` 0.1 (i + 1), ``code`` 0.05 (i + 1), i = 0..n-1."""
    rule = _check_choice("size_rule", size_rule, SIZE_RULES)
    step = 0.1 if rule == "paper" else 0.05
    return step * np.arange(1, num_resources + 1)


def resource_occupation(
    num_agents: int, num_resources: int = 6, size_rule: str = "paper"
) -> ResourceOccupation:
    """Resource occupation with ``num_agents`` agents (paper: 6, 9, 12, 15)."""
    n = _check_int("num_agents", num_agents, 1, MAX_AGENTS)
    r = _check_int("num_resources", num_resources, 1, 64)
    return ResourceOccupation(
        name="resource_occupation",
        role_names=("agent",),
        role_counts=(n,),
        bodies=_uniform_bodies(n, 0.05, 5.0, None),
        landmark_sizes=resource_sizes(r, size_rule),
    )


def pacman_world(num_pacman: int, num_ghosts: int, num_food: int = 20) -> PacmanWorld:
    """Pac-Man world (paper: (4, 2), (6, 3), (8, 4); eval (2, 8))."""
    p = _check_int("num_pacman", num_pacman, 1, MAX_AGENTS)
    g = _check_int("num_ghosts", num_ghosts, 1, MAX_AGENTS)
    f = _check_int("num_food", num_food, 1, MAX_AGENTS)
    return PacmanWorld(
        name="pacman_world",
        role_names=("pacman", "ghost"),
        role_counts=(p, g),
        bodies=make_bodies([0.05] * p + [0.075] * g, [4.0] * p + [3.0] * g, [1.3] * p + [1.0] * g),
        landmark_sizes=np.full(f, 0.03),
    )


def spread(num_agents: int) -> Spread:
    """Simple-spread-like task with N agents and N landmarks (benchmark only)."""
    n = _check_int("num_agents", num_agents, 1, MAX_AGENTS)
    return Spread(
        name="spread",
        role_names=("agent",),
        role_counts=(n,),
        bodies=_uniform_bodies(n, 0.15, 5.0, None),
        landmark_sizes=np.full(n, 0.05),
    )
