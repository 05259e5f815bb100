"""B HalfCheetahs stepped at once, with HalfCheetah-v5's rules (what ``halfcheetah_2x3`` plays).

:class:`BatchedHalfCheetah` holds B MuJoCo simulations of gymnasium's ``half_cheetah.xml`` and
steps all of them per call, for samplers whose policies act on all B observations in one
forward pass. Every rule is HalfCheetah-v5's (``gymnasium/envs/mujoco/half_cheetah_v5.py``),
which MaMuJoCo's ``HalfCheetah`` ``2x3`` wraps:

- an env step is ``FRAME_SKIP = 5`` physics steps (``mj_step``) under the same controls;
- reward ``= reward_scale * (direction * x_velocity - 0.1 * sum(action ** 2))`` with
  ``x_velocity = (x_after - x_before) / dt``, ``dt = 5 * timestep = 0.05`` s; the control cost
  is of the action as given (MuJoCo clamps the controls to ``[-1, 1]``, the cost does not);
- observation: ``qpos[1:]`` then ``qvel`` (17 values, the root's x position left out), which is
  also ``halfcheetah_2x3``'s full-state observation of both players;
- reset: ``qpos0 + U(-0.1, 0.1)`` and ``0.1 * N(0, 1)`` velocities, drawn in that order (so at
  ``B = 1`` a seed gives the initial state ``env.reset(seed)`` gives);
- episodes end by truncation after ``horizon`` steps (the cheetah never terminates).

Actions are ``(B, 6)``: columns 0-2 the back leg (thigh, shin, foot; ``player_0``, MaMuJoCo's
``agent_0``), 3-5 the front leg (``player_1``), see :func:`joint_actions`.

Why one ``MjData`` per cheetah stepped in a loop: it is HalfCheetah-v5's own computation, so
the states equal the env's to the last bit, on every mujoco the extra allows. Measured on one
core (B = 64, 5 physics steps per env step, mujoco 4.0): this loop about 38k env steps/s,
``mujoco.rollout`` with the state carried from call to call about 41k, mujoco 4's
``mujoco.batch.Batch`` about 42k. ``mujoco.rollout`` cannot carry the solver's warm start
(``qacc_warmstart``) from one call to the next, and the chaotic dynamics amplify the
difference: the cheetahs' joint positions were 1e-6 apart from the env's after 40 steps and
1 apart after 120. ``Batch`` is exact but needs mujoco >= 4; the policies' forward passes, not
the physics, dominate a sampler's time, so the ~10% is not worth a second code path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.mujoco import check_settings, quiet_model_warnings, require_mujoco

mujoco = require_mujoco()

from gymnasium.envs.mujoco.mujoco_env import expand_model_path  # noqa: E402 (needs mujoco)

MODEL_FILE = "half_cheetah.xml"  # gymnasium's asset, as HalfCheetah-v5 loads it
FRAME_SKIP = 5
FORWARD_REWARD_WEIGHT = 1.0
CTRL_COST_WEIGHT = 0.1
RESET_NOISE_SCALE = 0.1
ACTION_DIM = 6
LEG_DIM = 3  # joints per player (MaMuJoCo's 2x3 partition)
OBS_DIM = 17


def load_model() -> Any:
    """HalfCheetah-v5's ``MjModel``."""
    with quiet_model_warnings():
        return mujoco.MjModel.from_xml_path(expand_model_path(MODEL_FILE))


def joint_actions(back_leg: Any, front_leg: Any) -> np.ndarray:
    """The ``(B, 6)`` controls of ``player_0``'s ``(B, 3)`` and ``player_1``'s ``(B, 3)``."""
    return np.concatenate(
        [np.asarray(back_leg, np.float64), np.asarray(front_leg, np.float64)], axis=-1
    )


class BatchedHalfCheetah:
    """``batch_size`` HalfCheetah-v5 simulations stepped in lockstep (see the module docstring).

    Args:
        batch_size: B.
        horizon: steps per episode; :meth:`step` reports truncation at the last one.
        direction: ``1`` rewards running right (HalfCheetah-v5), ``-1`` running left (the
            forward term's sign flips, the control cost does not).
        reward_scale: every reward is multiplied by it.
        seed: seed of the generator of the reset noise.
    """

    def __init__(
        self,
        batch_size: int,
        horizon: int = 200,
        direction: int = 1,
        reward_scale: float = 1.0,
        seed: int | None = None,
    ) -> None:
        check_settings(horizon, direction, reward_scale)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
        self.batch_size = batch_size
        self.horizon = horizon
        self.direction = direction
        self.reward_scale = float(reward_scale)
        self.model = load_model()
        self.dt = self.model.opt.timestep * FRAME_SKIP
        self._datas = [mujoco.MjData(self.model) for _ in range(batch_size)]
        self.init_qpos = self._datas[0].qpos.copy()
        self.init_qvel = self._datas[0].qvel.copy()
        self._qpos = np.zeros((batch_size, self.model.nq))
        self._qvel = np.zeros((batch_size, self.model.nv))
        self.rng = np.random.default_rng(seed)
        self.t = 0
        self._started = False

    def seed(self, seed: int | None) -> None:
        """Reseed the reset noise."""
        self.rng = np.random.default_rng(seed)

    @property
    def qpos(self) -> np.ndarray:
        """Joint positions ``(B, 9)`` (root x, root z, root angle, then the 6 joints); a copy."""
        return self._qpos.copy()

    @property
    def qvel(self) -> np.ndarray:
        """Joint velocities ``(B, 9)``; a copy."""
        return self._qvel.copy()

    def observations(self) -> np.ndarray:
        """``(B, 17)``: ``qpos[1:]`` then ``qvel``, HalfCheetah-v5's observation."""
        return np.concatenate([self._qpos[:, 1:], self._qvel], axis=1)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """New episodes from HalfCheetah-v5's noisy initial state; returns the observations."""
        if seed is not None:
            self.seed(seed)
        shape = (self.batch_size,)
        noise = RESET_NOISE_SCALE
        qpos = self.init_qpos + self.rng.uniform(-noise, noise, size=(*shape, self.model.nq))
        qvel = self.init_qvel + noise * self.rng.standard_normal((*shape, self.model.nv))
        return self.set_state(qpos, qvel)

    def set_state(self, qpos: Any, qvel: Any) -> np.ndarray:
        """New episodes from given positions and velocities ``(B, 9)`` each (as
        HalfCheetah-v5's reset: ``mj_resetData``, the state, ``mj_forward``); returns the
        observations."""
        qpos = np.asarray(qpos, np.float64)
        qvel = np.asarray(qvel, np.float64)
        expected = (self.batch_size, self.model.nq)
        if qpos.shape != expected or qvel.shape != (self.batch_size, self.model.nv):
            raise ValueError(
                f"qpos and qvel must have shape {expected}; got {qpos.shape} and {qvel.shape}"
            )
        for b, data in enumerate(self._datas):
            mujoco.mj_resetData(self.model, data)
            data.qpos[:] = qpos[b]
            data.qvel[:] = qvel[b]
            mujoco.mj_forward(self.model, data)
        self._qpos[:] = qpos
        self._qvel[:] = qvel
        self.t = 0
        self._started = True
        return self.observations()

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, bool]:
        """One env step of every cheetah under ``actions`` ``(B, 6)`` (:func:`joint_actions`).

        Returns:
            observations ``(B, 17)``, rewards ``(B,)`` and whether the episodes are truncated
            (the ``horizon``-th step).
        """
        if not self._started:
            raise RuntimeError("call reset() or set_state() before step()")
        if self.t >= self.horizon:
            raise RuntimeError(f"the episodes ended after {self.horizon} steps; call reset()")
        actions = np.asarray(actions, np.float64)
        if actions.shape != (self.batch_size, ACTION_DIM):
            raise ValueError(
                f"actions must have shape {(self.batch_size, ACTION_DIM)}; got {actions.shape}"
            )
        x_before = self._qpos[:, 0].copy()
        for b, data in enumerate(self._datas):
            data.ctrl[:] = actions[b]
            mujoco.mj_step(self.model, data, nstep=FRAME_SKIP)
            self._qpos[b] = data.qpos
            self._qvel[b] = data.qvel
        x_velocity = (self._qpos[:, 0] - x_before) / self.dt
        # HalfCheetah-v5's _get_rew, term for term, then the scale.
        forward_reward = (self.direction * FORWARD_REWARD_WEIGHT) * x_velocity
        ctrl_cost = CTRL_COST_WEIGHT * np.sum(np.square(actions), axis=1)
        rewards = (forward_reward - ctrl_cost) * self.reward_scale
        self.t += 1
        return self.observations(), rewards, self.t >= self.horizon
