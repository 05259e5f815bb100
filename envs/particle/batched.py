"""B particle-world games stepped at once: physics, rewards and observations in array ops.

:class:`BatchedParticleWorld` owns the state of B environments of one
:class:`~envs.particle.tasks.Task` and steps them in lockstep; the PettingZoo env
(:mod:`envs.particle.env`) is this class at ``B = 1``, so both share every rule.
Observations are entity-structured for attention networks (paper 002, section 5 and Fig. 1:
a self token, one token per other agent, landmark tokens, masks for padding) with
a fixed width per entity whatever the population; see :data:`AGENT_FEATURES` and
:data:`LANDMARK_FEATURES`.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

import numpy as np

from envs.particle.core import PhysicsParams, step_physics
from envs.particle.tasks import NUM_ROLES, Task, WorldState

# Per-agent token: position (absolute for self, relative to the observer for others), velocity
# (the agent's own, not relative), role one-hot, active flag (0 once a Pac-Man is caught),
# radius. Widths are even so that (x, y) pairs can be handled as one complex number.
AGENT_FEATURES = ("x", "y", "vx", "vy", "role_0", "role_1", "active", "size")
# Per-landmark token: position relative to the observer, radius, active flag (items respawn at
# once, so this is 1 for every real landmark; padding slots are all 0).
LANDMARK_FEATURES = ("dx", "dy", "size", "active")
DESCRIPTOR_WIDTH = NUM_ROLES + 1  # agents per role, landmark count
OBS_KEYS = ("self", "others", "others_mask", "landmarks", "landmarks_mask", "game")

MAX_CYCLES = 20  # paper 002, E.1: "The episode length is set to 20"


class BatchedParticleWorld:
    """B environments of ``task``; arrays are ``(B, N, ...)`` with agents in task order.

    Args:
        task: Rules, population and bodies.
        batch_size: B.
        seed: Seed of the numpy generator for spawns and respawns.
        max_cycles: Steps per episode (truncation).
        max_agents / max_landmarks: Pad the ``others`` / ``landmarks`` tokens to this many
            agents / landmarks so games of different populations share one observation shape
            (``None``: this game's own counts).
        dtype: float32 for speed, float64 for exact comparisons.
        params: Physics constants.
    """

    def __init__(
        self,
        task: Task,
        batch_size: int,
        seed: int | None = None,
        max_cycles: int = MAX_CYCLES,
        max_agents: int | None = None,
        max_landmarks: int | None = None,
        dtype: type = np.float32,
        params: PhysicsParams | None = None,
    ) -> None:
        self.task = task
        self.batch_size = int(batch_size)
        self.max_cycles = int(max_cycles)
        self.dtype = np.dtype(dtype)
        self.params = params or PhysicsParams()
        n, num_lm = task.num_agents, task.num_landmarks
        self.num_others = n - 1 if max_agents is None else max_agents - 1
        self.num_landmark_slots = num_lm if max_landmarks is None else max_landmarks
        if self.num_others < n - 1 or self.num_landmark_slots < num_lm:
            raise ValueError(
                f"max_agents={max_agents} / max_landmarks={max_landmarks} are smaller than "
                f"the game's {n} agents / {num_lm} landmarks"
            )
        self.rng = np.random.default_rng(seed)
        # Index of every other agent, in agent order, for each observer: (N, N - 1).
        self._others = np.array([[j for j in range(n) if j != i] for i in range(n)], dtype=int)
        self._templates = self._observation_templates()
        self.state = self._empty_state()

    # -- episode control ----------------------------------------------------------------

    def _empty_state(self) -> WorldState:
        shape = (self.batch_size, self.task.num_agents)
        return WorldState(
            pos=np.zeros((*shape, 2), self.dtype),
            vel=np.zeros((*shape, 2), self.dtype),
            active=np.ones(shape, bool),
            landmark_pos=np.zeros((self.batch_size, self.task.num_landmarks, 2), self.dtype),
            steps=np.zeros(self.batch_size, np.int64),
        )

    def seed(self, seed: int | None) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Start new episodes in every env (or where ``mask`` ``(B,)`` is true); observations."""
        envs = np.ones(self.batch_size, bool) if mask is None else np.asarray(mask, bool)
        k, s = int(envs.sum()), self.state
        n, num_lm = self.task.num_agents, self.task.num_landmarks
        s.pos[envs] = self.rng.uniform(-1.0, 1.0, (k, n, 2))
        s.vel[envs] = 0.0
        s.active[envs] = True
        s.landmark_pos[envs] = self.rng.uniform(-1.0, 1.0, (k, num_lm, 2))
        s.steps[envs] = 0
        return self.observe()

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """Advance every env by one step with ``actions`` ``(B, N)`` in ``[0, 5)``.

        Returns ``(observations, rewards (B, N), terminated (B, N), truncated (B,))``.
        ``terminated[b, i]`` is true once agent i is out (a caught Pac-Man), and for every
        agent when the game is over (all Pac-Man caught). Inactive agents' actions are ignored
        and their reward is 0. Finished envs keep stepping until :meth:`reset` (with a mask).
        """
        s = self.state
        s.pos, s.vel = step_physics(
            s.pos, s.vel, np.asarray(actions), self.task.bodies, s.active, self.params
        )
        rewards = self.task.rewards(s, self.rng).astype(self.dtype, copy=False)
        s.steps += 1
        terminated = ~s.active | self.game_over()[:, None]
        truncated = s.steps >= self.max_cycles
        return self.observe(), rewards, terminated, truncated

    def game_over(self) -> np.ndarray:
        """``(B,)`` true where every agent of the first role is out (the Pac-Man game ends)."""
        if len(self.task.role_counts) < 2:
            return np.zeros(self.batch_size, bool)
        return ~self.state.active[:, : self.task.role_counts[0]].any(axis=1)

    # -- observations -------------------------------------------------------------------

    def _observation_templates(self) -> dict[str, np.ndarray]:
        """Constant parts of every observation (roles, sizes, masks, descriptor), per agent."""
        task, n, dt = self.task, self.task.num_agents, self.dtype
        public = np.zeros((n, len(AGENT_FEATURES)), dt)  # what others see of each agent
        public[:, 4:6] = np.eye(NUM_ROLES, dtype=dt)[task.roles]
        public[:, 7] = task.bodies.size
        others_mask = np.zeros((n, self.num_others), dt)
        others_mask[:, : n - 1] = 1.0
        landmarks = np.zeros((n, self.num_landmark_slots, len(LANDMARK_FEATURES)), dt)
        landmarks[:, : task.num_landmarks, 2] = task.landmark_sizes
        landmarks[:, : task.num_landmarks, 3] = 1.0
        landmarks_mask = np.zeros((n, self.num_landmark_slots), dt)
        landmarks_mask[:, : task.num_landmarks] = 1.0
        game = np.broadcast_to(task.descriptor().astype(dt), (n, DESCRIPTOR_WIDTH)).copy()
        return {
            "self": public,
            "others_mask": others_mask,
            "landmarks": landmarks,
            "landmarks_mask": landmarks_mask,
            "game": game,
        }

    def _from_template(self, key: str) -> np.ndarray:
        """A fresh ``(B, ...)`` copy of a template (cheaper than ``broadcast_to(...).copy()``)."""
        template = self._templates[key]
        out = np.empty((self.batch_size, *template.shape), self.dtype)
        out[...] = template
        return out

    def _as_complex(self, xy: np.ndarray) -> np.ndarray:
        """View the (x, y) pairs of a C-contiguous ``(..., 2k)`` array as ``(..., k)`` complex."""
        return xy.view(np.result_type(self.dtype, np.complex64))

    def observe(self) -> dict[str, np.ndarray]:
        """Observations of every agent: dict of ``(B, N, ...)`` arrays keyed by :data:`OBS_KEYS`.

        Relative positions are computed on complex views of the (x, y) pairs: one subtraction
        per token instead of two strided ones (about 3x faster at N = 24).
        """
        s, n, num_lm = self.state, self.task.num_agents, self.task.num_landmarks
        public = self._from_template("self")
        public[..., 0:2] = s.pos
        public[..., 2:4] = s.vel
        public[..., 6] = s.active
        own_xy = self._as_complex(np.ascontiguousarray(s.pos))[..., 0]  # (B, N)

        others = np.take(public, self._others, axis=1)  # (B, N, N - 1, F)
        self._as_complex(others)[..., 0] -= own_xy[:, :, None]
        if self.num_others > n - 1:
            padded = np.zeros((*others.shape[:2], self.num_others, others.shape[3]), self.dtype)
            padded[:, :, : n - 1] = others
            others = padded

        landmarks = self._from_template("landmarks")
        landmark_xy = self._as_complex(np.ascontiguousarray(s.landmark_pos))[..., 0]  # (B, L)
        self._as_complex(landmarks)[:, :, :num_lm, 0] = landmark_xy[:, None, :] - own_xy[:, :, None]
        return {
            "self": public,
            "others": others,
            "others_mask": self._from_template("others_mask"),
            "landmarks": landmarks,
            "landmarks_mask": self._from_template("landmarks_mask"),
            "game": self._from_template("game"),
        }

    def observation_shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-agent shape of each observation entry."""
        shapes = {key: value.shape[1:] for key, value in self._templates.items()}  # drop N
        shapes["others"] = (self.num_others, len(AGENT_FEATURES))
        return {key: shapes[key] for key in OBS_KEYS}


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed large blocks in the process; True if it took effect.

    Each batched step allocates fresh arrays of a few MB (observations, (B, N, N) temporaries).
    By default glibc serves such blocks with ``mmap`` or trims them from the heap when freed,
    so the next step page-faults the same memory back in: at B = 1024 that costs 30-60% of a
    step. Raising the mmap threshold to its maximum (32 MB) and the trim threshold stops it, at
    the price of the process keeping its peak heap. A process-wide setting, so it is opt-in
    (the benchmark's ``--keep-freed-memory``); it does nothing outside Linux/glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameter numbers
    mmap_ok = libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)
    trim_ok = libc.mallopt(m_trim_threshold, 1 << 30)
    return bool(mmap_ok and trim_ok)


def flatten_observations(obs: dict[str, Any]) -> np.ndarray:
    """Concatenate the entries of (batched) observations in :data:`OBS_KEYS` order.

    Works on per-agent dicts (``{key: (...)}``) and on batched ones (``{key: (B, N, ...)}``)
    as long as every entry has the same leading axes as ``obs["self"]``.
    """
    lead = obs["self"].shape[:-1]
    return np.concatenate([obs[key].reshape(*lead, -1) for key in OBS_KEYS], axis=-1)
