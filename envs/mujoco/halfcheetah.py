"""``halfcheetah_2x3``: 2-agent HalfCheetah as a PettingZoo ``ParallelEnv`` (paper 001 section 5).

A thin layer over MaMuJoCo's ``gymnasium_robotics.mamujoco_v1.parallel_env("HalfCheetah",
"2x3")``, which factorises HalfCheetah-v5's 6 joints into two legs:

- ``player_0`` (MaMuJoCo's ``agent_0``) drives the back leg (bthigh, bshin, bfoot), the
  meta-agent in the project's Meta-MAPG convention; ``player_1`` (``agent_1``) the front leg
  (fthigh, fshin, ffoot), the teammate. Actions ``Box(-1, 1, (3,), float32)`` each;
- ``observation="full"`` (default, the paper's setting): both players observe the 17-value
  state, HalfCheetah-v5's observation (``state()``); ``"local"``: MaMuJoCo's own local
  observations (``agent_obsk=1``: 12 values each);
- one reward for both, HalfCheetah-v5's: ``direction * x_velocity - 0.1 * sum(action ** 2)``
  over all 6 joints, times ``reward_scale`` (the reference implementation divides by 100:
  ``reward_scale=0.01``). ``direction=-1`` rewards running left (HalfCheetah-v5's
  ``forward_reward_weight = -1``);
- episodes end by truncation after ``horizon`` steps (paper: H = 200; MaMuJoCo's default
  1000), never by termination; a finished episode has no live agents until ``reset``.

:class:`~envs.mujoco.batched.BatchedHalfCheetah` applies the same rules to B cheetahs at once;
the tests check the two against each other step for step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.mujoco import PLAYERS, check_settings, quiet_model_warnings, require_mujoco
from envs.mujoco.batched import OBS_DIM

require_mujoco()

from gymnasium_robotics import mamujoco_v1  # noqa: E402 (after the extra's check)

OBSERVATIONS = ("full", "local")
RENDER_MODES = ("rgb_array",)

AgentID = str


class HalfCheetah2x3(ParallelEnv[AgentID, np.ndarray, np.ndarray]):
    """2-agent HalfCheetah (see the module docstring); ``mamujoco`` is the wrapped env."""

    metadata = {
        "name": "halfcheetah_2x3_v0",
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
    }

    def __init__(
        self,
        horizon: int = 200,
        direction: int = 1,
        observation: str = "full",
        reward_scale: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        check_settings(horizon, direction, reward_scale)
        if observation not in OBSERVATIONS:
            raise ValueError(
                f"observation must be one of {list(OBSERVATIONS)}; got {observation!r}"
            )
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(
                f"render_mode must be None or one of {list(RENDER_MODES)}; got {render_mode!r}"
            )
        self.horizon = horizon
        self.direction = direction
        self.observation = observation
        self.reward_scale = float(reward_scale)
        self.render_mode = render_mode
        with quiet_model_warnings():
            self.mamujoco = mamujoco_v1.parallel_env(
                "HalfCheetah",
                "2x3",
                render_mode=render_mode,
                max_episode_steps=horizon,
                forward_reward_weight=float(direction),
            )
        self.possible_agents = list(PLAYERS)
        self.agents: list[AgentID] = []
        # player_i <-> MaMuJoCo's agent_i (back leg first).
        self._inner = dict(zip(PLAYERS, self.mamujoco.possible_agents, strict=True))
        self.action_spaces = {a: self.mamujoco.action_space(self._inner[a]) for a in PLAYERS}
        if observation == "full":
            full = spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float64)
            self.observation_spaces = dict.fromkeys(PLAYERS, full)
        else:
            self.observation_spaces = {
                a: self.mamujoco.observation_space(self._inner[a]) for a in PLAYERS
            }

    @property
    def simulation(self) -> Any:
        """HalfCheetah-v5 underneath (``.model``, ``.data``, ``.set_state``, ``.dt``)."""
        return self.mamujoco.single_agent_env.unwrapped

    # -- PettingZoo API ---------------------------------------------------------------------

    def observation_space(self, agent: AgentID) -> spaces.Box:
        return self.observation_spaces[agent]

    def action_space(self, agent: AgentID) -> spaces.Box:
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[AgentID, np.ndarray], dict[AgentID, dict[str, Any]]]:
        """New episode; ``seed`` seeds HalfCheetah-v5's reset noise."""
        local, infos = self.mamujoco.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        return self._observations(local), {a: dict(infos[self._inner[a]]) for a in self.agents}

    def step(self, actions: dict[AgentID, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """One joint step; both players must act while the episode runs."""
        if not self.agents:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"missing action for live agent(s) {missing}")
        inner_actions = {self._inner[a]: np.asarray(actions[a]) for a in self.agents}
        local, rewards, terminations, truncations, infos = self.mamujoco.step(inner_actions)
        observations = self._observations(local)
        out_rewards = {a: float(rewards[self._inner[a]]) * self.reward_scale for a in PLAYERS}
        terms = {a: bool(terminations[self._inner[a]]) for a in PLAYERS}
        truncs = {a: bool(truncations[self._inner[a]]) for a in PLAYERS}
        out_infos = {a: dict(infos[self._inner[a]]) for a in PLAYERS}
        self.agents = [a for a in PLAYERS if not (terms[a] or truncs[a])]
        return observations, out_rewards, terms, truncs, out_infos

    def _observations(self, local: dict[str, np.ndarray]) -> dict[AgentID, np.ndarray]:
        if self.observation == "full":
            state = self.state()
            return {a: state.copy() for a in PLAYERS}
        return {a: local[self._inner[a]] for a in PLAYERS}

    def state(self) -> np.ndarray:
        """The 17-value state, HalfCheetah-v5's observation (``qpos[1:]``, ``qvel``)."""
        return self.mamujoco.state()

    def render(self) -> np.ndarray | None:
        """An ``(H, W, 3)`` frame when ``render_mode == "rgb_array"`` (needs an off-screen GL:
        ``MUJOCO_GL=egl`` or ``osmesa``), else ``None``."""
        if self.render_mode is None:
            return None
        return self.mamujoco.render()

    def close(self) -> None:
        self.mamujoco.close()
