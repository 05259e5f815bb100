"""PettingZoo parallel env of a particle task: the batched core at ``B = 1``.

Agents are named ``<role>_<k>`` (``collector_0``, ``agent_0``, ``pacman_0`` / ``ghost_0``) and
ordered role by role. Observations are the entity-structured ``Dict`` of
:mod:`envs.particle.batched` (``obs_format="dict"``) or its concatenation in ``OBS_KEYS`` order
(``obs_format="flat"``) for generic RLlib models. Actions: ``Discrete(5)`` (no-op, -x, +x, -y,
+y, as mpe2). Episodes end by truncation after ``max_cycles`` steps (a time limit, as in MPE);
a caught Pac-Man is terminated and leaves ``agents``; when every Pac-Man is caught every agent
is terminated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.particle.batched import (
    MAX_CYCLES,
    OBS_KEYS,
    BatchedParticleWorld,
    flatten_observations,
)
from envs.particle.core import NUM_ACTIONS
from envs.particle.tasks import Task

OBS_FORMATS = ("dict", "flat")
RENDER_MODES = ("rgb_array",)

AgentID = str


def _box(shape: tuple[int, ...], low: float, high: float) -> spaces.Box:
    return spaces.Box(low, high, shape, np.float32)


class ParticleEnv(ParallelEnv[AgentID, Any, int]):
    """One game of ``task`` as a PettingZoo ``ParallelEnv`` (see the module docstring)."""

    metadata = {"name": "particle_world_v0", "render_modes": list(RENDER_MODES)}

    def __init__(
        self,
        task: Task,
        max_cycles: int = MAX_CYCLES,
        obs_format: str = "dict",
        max_agents: int | None = None,
        max_landmarks: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        if obs_format not in OBS_FORMATS:
            raise ValueError(f"obs_format must be one of {list(OBS_FORMATS)}; got {obs_format!r}")
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(
                f"render_mode must be None or one of {list(RENDER_MODES)}; got {render_mode!r}"
            )
        _check_limit("max_cycles", max_cycles, 1)
        _check_limit("max_agents", max_agents, task.num_agents, optional=True)
        _check_limit("max_landmarks", max_landmarks, task.num_landmarks, optional=True)
        self.task = task
        self.obs_format = obs_format
        self.render_mode = render_mode
        self.world = BatchedParticleWorld(
            task, 1, max_cycles=max_cycles, max_agents=max_agents, max_landmarks=max_landmarks
        )
        self.possible_agents = task.agent_names
        self.agents: list[AgentID] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        # Spaces are created once so that seeding them persists (PettingZoo requires identity).
        self.observation_spaces = {a: self._observation_space() for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(NUM_ACTIONS) for a in self.possible_agents}

    def _observation_space(self) -> spaces.Space:
        shapes = self.world.observation_shapes()
        boxes = {key: _box(shapes[key], -np.inf, np.inf) for key in OBS_KEYS}
        for key in ("others_mask", "landmarks_mask"):
            boxes[key] = _box(shapes[key], 0.0, 1.0)
        if self.obs_format == "flat":
            width = sum(int(np.prod(shapes[key])) for key in OBS_KEYS)
            return _box((width,), -np.inf, np.inf)
        return spaces.Dict(boxes)

    # -- PettingZoo API ---------------------------------------------------------------------

    def observation_space(self, agent: AgentID) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: AgentID) -> spaces.Discrete:
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[AgentID, Any], dict[AgentID, dict[str, Any]]]:
        """New episode; ``seed`` seeds the spawns (and the agents' action spaces)."""
        if seed is not None:
            self.world.seed(seed)
            for i, agent in enumerate(self.possible_agents):
                self.action_spaces[agent].seed(seed + i)
        self.agents = list(self.possible_agents)
        obs = self.world.reset()
        return self._per_agent(obs), {agent: {} for agent in self.agents}

    def step(self, actions: dict[AgentID, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """One joint step; every live agent must act with an integer in ``[0, 5)``."""
        if not self.agents:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        joint = np.zeros((1, self.task.num_agents), np.int64)  # inactive agents: no-op
        for agent in self.agents:
            if agent not in actions:
                raise ValueError(f"missing action for live agent {agent!r}")
            joint[0, self._index[agent]] = _action(agent, actions[agent])
        obs, rewards, terminated, truncated = self.world.step(joint)
        live = self.agents
        out_obs = self._per_agent(obs)
        out_rewards = {a: float(rewards[0, self._index[a]]) for a in live}
        terms = {a: bool(terminated[0, self._index[a]]) for a in live}
        truncs = dict.fromkeys(live, bool(truncated[0]))
        infos: dict[AgentID, dict[str, Any]] = {a: {} for a in live}
        self.agents = [a for a in live if not (terms[a] or truncs[a])]
        return out_obs, out_rewards, terms, truncs, infos

    def _per_agent(self, obs: dict[str, np.ndarray]) -> dict[AgentID, Any]:
        """Split the ``(1, N, ...)`` batched observations into one entry per live agent."""
        if self.obs_format == "flat":
            flat = flatten_observations(obs)[0]
            return {a: flat[self._index[a]] for a in self.agents}
        return {a: {key: obs[key][0, self._index[a]] for key in OBS_KEYS} for a in self.agents}

    def state(self) -> np.ndarray:
        """Global state: every agent's position and velocity and every landmark's position."""
        s = self.world.state
        return np.concatenate([s.pos[0].ravel(), s.vel[0].ravel(), s.landmark_pos[0].ravel()])

    def render(self) -> np.ndarray | None:
        """An ``(H, W, 3)`` uint8 frame when ``render_mode == "rgb_array"``, else ``None``."""
        if self.render_mode != "rgb_array":
            return None
        from envs.particle.render import render_frame

        return render_frame(self.task, self.world.state)

    def close(self) -> None:
        """Nothing to release (rendering keeps no window)."""


def _action(agent: AgentID, action: Any) -> int:
    value = int(action)
    if value != action or not 0 <= value < NUM_ACTIONS:
        raise ValueError(
            f"action of {agent!r} must be an integer in [0, {NUM_ACTIONS}); got {action!r}"
        )
    return value


def _check_limit(key: str, value: Any, low: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{key} must be an integer >= {low}; got {value!r}")
