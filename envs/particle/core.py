"""Batched particle-world physics: B environments x N agents stepped in numpy array operations.

The physics of the multi-agent particle environments (Lowe et al. 2017) that paper 002's three
tasks are built on (MRA, section 7 and Appendix E.1), with the constants of the MPE code:

* action force ``u = accel * d`` for a discrete move ``d`` in {0, -x, +x, -y, +y} (MPE's
  "sensitivity": ``accel`` defaults to 5.0), no action or communication noise;
* contact force between every pair of colliding, active agents ``a, b``:
  ``f_ab = contact_force * k * softplus(-(|d| - (r_a + r_b)) / k) * d / |d|``, ``d = p_a - p_b``
  with ``contact_force = 100`` and margin ``k = 1e-3``; ``f_ba = -f_ab``;
* **semi-implicit (symplectic) Euler**, as the MRA-era MPE code integrates: first the velocity,
  ``v <- v (1 - damping) + (F / m) dt``, then the speed is clipped to ``max_speed``, then the
  position moves with the *new* velocity, ``p <- p + v dt`` (``dt = 0.1``, ``damping = 0.25``,
  ``m = 1``). Newer PettingZoo MPE versions move the position before updating the velocity;
  we follow the older order on purpose.

Deviations from MPE, all deliberate:

* Landmarks (treasures, resources, food) never move and never collide in these tasks, so only
  agents take part in the physics; landmarks live in the task layer (:mod:`envs.particle.tasks`).
* Inactive agents (a caught Pac-Man) keep their position, get zero velocity, exert and receive
  no contact force and ignore their action.
* Two agents at exactly the same position would divide by zero in MPE; the distance is floored
  at ``1e-12`` here, which gives zero force (the direction is the zero vector).

Every function is vectorised over a leading batch axis ``B`` and the agent axis ``N``: there is
no Python loop over agents or environments. Backend: numpy. Against equivalent torch code
(``benchmarks/particle_throughput.py``, last two tables) the physics kernel runs at the same
speed and the observation step wins at some sizes and loses at others (docs/results.md,
"Particle worlds"); numpy was kept because the whole step meets the project's throughput
targets (1M agent-steps/s at N = 3 and 500k at N = 24 with B = 1024;
``benchmarks/particle_throughput.py``) and its masked resets and respawns are simpler to write.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Discrete actions in mpe2's order: no-op, move -x, +x, -y, +y (one row per action).
ACTION_DIRECTIONS = np.array([[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
NUM_ACTIONS = len(ACTION_DIRECTIONS)
# Pairs farther apart than this many contact margins beyond touching exert no computed force.
CUTOFF_MARGINS = 40.0


@dataclass(frozen=True)
class PhysicsParams:
    """MPE world constants (those of the MPE code, listed in the module docstring)."""

    dt: float = 0.1
    damping: float = 0.25
    contact_force: float = 100.0
    contact_margin: float = 1e-3


@dataclass(frozen=True)
class AgentBodies:
    """Per-agent static properties, each an array of shape ``(N,)``.

    ``max_speed`` uses ``inf`` for "no limit" so that one vectorised clip serves every agent.
    """

    size: np.ndarray
    accel: np.ndarray
    max_speed: np.ndarray
    mass: np.ndarray
    collide: np.ndarray

    @property
    def num_agents(self) -> int:
        return len(self.size)


def make_bodies(
    size: np.ndarray | list[float],
    accel: np.ndarray | list[float],
    max_speed: np.ndarray | list[float],
    collide: np.ndarray | list[bool] | None = None,
    mass: np.ndarray | list[float] | None = None,
) -> AgentBodies:
    """:class:`AgentBodies` from per-agent lists (``None`` max speed = unlimited)."""
    size_arr = np.asarray(size, dtype=np.float64)
    n = len(size_arr)
    speed = np.array([np.inf if s is None else s for s in max_speed], dtype=np.float64)
    return AgentBodies(
        size=size_arr,
        accel=np.asarray(accel, dtype=np.float64),
        max_speed=speed,
        mass=np.ones(n) if mass is None else np.asarray(mass, dtype=np.float64),
        collide=np.ones(n, bool) if collide is None else np.asarray(collide, dtype=bool),
    )


def action_forces(actions: np.ndarray, accel: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``(B, N, 2)`` forces of discrete ``actions`` ``(B, N)`` scaled by each agent's accel."""
    directions = ACTION_DIRECTIONS.astype(dtype)
    return directions[actions] * accel.astype(dtype)[:, None]


def contact_forces(
    pos: np.ndarray, bodies: AgentBodies, active: np.ndarray, params: PhysicsParams
) -> np.ndarray:
    """``(B, N, 2)`` sum of MPE contact forces on each agent from every other agent.

    ``pos`` is ``(B, N, 2)``, ``active`` ``(B, N)`` bool. Pairs where either agent does not
    collide or is inactive exert nothing. The softplus is evaluated only for pairs closer than
    ``r_a + r_b + CUTOFF_MARGINS * k``: farther pairs would contribute less than
    ``contact_force * k * exp(-CUTOFF_MARGINS)`` (about 4e-19), below float64 resolution of any
    force that matters, and skipping them makes the N = 24 step about five times faster.
    """
    dtype = pos.dtype
    batch, n = active.shape
    x, y = pos[..., 0], pos[..., 1]
    dx = x[:, :, None] - x[:, None, :]  # p_a - p_b, (B, N, N)
    dy = y[:, :, None] - y[:, None, :]
    k = params.contact_margin
    min_dist = (bodies.size[:, None] + bodies.size[None, :]).astype(dtype)
    reach_sq = (min_dist + CUTOFF_MARGINS * k) ** 2
    pair_ok = bodies.collide[:, None] & bodies.collide[None, :] & ~np.eye(n, dtype=bool)
    close = (dx * dx + dy * dy < reach_sq) & pair_ok & active[:, :, None] & active[:, None, :]
    b, i, j = np.nonzero(close)
    force = np.zeros((batch, n, 2), dtype)
    if len(b) == 0:
        return force
    pdx, pdy = dx[b, i, j], dy[b, i, j]
    dist = np.sqrt(pdx * pdx + pdy * pdy)
    penetration = np.logaddexp(dtype.type(0), (min_dist[i, j] - dist) / dtype.type(k)) * k
    magnitude = (params.contact_force * penetration / np.maximum(dist, 1e-12)).astype(dtype)
    flat = b * n + i  # each pair (a, b) appears twice, once per receiving agent
    force[..., 0] = np.bincount(flat, magnitude * pdx, minlength=batch * n).reshape(batch, n)
    force[..., 1] = np.bincount(flat, magnitude * pdy, minlength=batch * n).reshape(batch, n)
    return force


def integrate(
    pos: np.ndarray,
    vel: np.ndarray,
    force: np.ndarray,
    bodies: AgentBodies,
    active: np.ndarray,
    params: PhysicsParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Semi-implicit Euler step (velocity first, speed clip, then position); new arrays."""
    dtype = pos.dtype
    inv_mass_dt = (params.dt / bodies.mass).astype(dtype)[:, None]
    vel = vel * dtype.type(1.0 - params.damping) + force * inv_mass_dt
    if np.isfinite(bodies.max_speed).any():
        speed = np.sqrt(np.einsum("bik,bik->bi", vel, vel))
        limit = bodies.max_speed.astype(dtype)
        scale = np.where(speed > limit, limit / np.maximum(speed, 1e-12), dtype.type(1))
        vel = vel * scale[..., None]
    vel = np.where(active[..., None], vel, dtype.type(0))
    return pos + vel * dtype.type(params.dt), vel


def step_physics(
    pos: np.ndarray,
    vel: np.ndarray,
    actions: np.ndarray,
    bodies: AgentBodies,
    active: np.ndarray,
    params: PhysicsParams,
) -> tuple[np.ndarray, np.ndarray]:
    """One world step of B environments: forces from actions and contacts, then integration."""
    force = action_forces(actions, bodies.accel, pos.dtype)
    if bodies.collide.sum() > 1:
        force = force + contact_forces(pos, bodies, active, params)
    return integrate(pos, vel, force, bodies, active, params)


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(B, N, M)`` Euclidean distances between ``a`` ``(B, N, 2)`` and ``b`` ``(B, M, 2)``."""
    dx = a[:, :, None, 0] - b[:, None, :, 0]
    dy = a[:, :, None, 1] - b[:, None, :, 1]
    return np.sqrt(dx * dx + dy * dy)
