"""``BatchedHalfCheetah`` equals ``halfcheetah_2x3`` step for step: states, observations and
rewards (float64, 1e-9), from the same initial states under the same actions."""

import numpy as np
import pytest

REASON = 'needs the mujoco extra: pip install "rllib-meta[mujoco]"'
pytest.importorskip("mujoco", reason=REASON)
pytest.importorskip("gymnasium_robotics", reason=REASON)

import envs  # noqa: E402
from envs.mujoco.batched import BatchedHalfCheetah, joint_actions  # noqa: E402

TOLERANCE = {"rtol": 0.0, "atol": 1e-9}


def env_state(env) -> tuple[np.ndarray, np.ndarray]:
    data = env.simulation.data
    return data.qpos.copy(), data.qvel.copy()


@pytest.mark.parametrize(("direction", "reward_scale"), [(1, 1.0), (-1, 0.01)])
def test_batched_core_equals_the_env_step_for_step(direction, reward_scale):
    horizon, seeds = 60, [0, 1, 2]
    config = {"horizon": horizon, "direction": direction, "reward_scale": reward_scale}
    games = [envs.make("halfcheetah_2x3", **config) for _ in seeds]
    first = [game.reset(seed=seed)[0] for game, seed in zip(games, seeds, strict=True)]
    core = BatchedHalfCheetah(len(seeds), **config)
    qpos, qvel = zip(*(env_state(game) for game in games), strict=True)
    observations = core.set_state(np.stack(qpos), np.stack(qvel))
    np.testing.assert_array_equal(observations, np.stack([o["player_0"] for o in first]))
    rng = np.random.default_rng(5)
    for t in range(horizon):
        back = rng.uniform(-1.5, 1.5, (len(seeds), 3)).astype(np.float32)
        front = rng.uniform(-1.5, 1.5, (len(seeds), 3)).astype(np.float32)
        observations, rewards, truncated = core.step(joint_actions(back, front))
        for b, game in enumerate(games):
            obs, reward, _, truncs, _ = game.step({"player_0": back[b], "player_1": front[b]})
            qpos, qvel = env_state(game)
            np.testing.assert_allclose(core.qpos[b], qpos, **TOLERANCE)
            np.testing.assert_allclose(core.qvel[b], qvel, **TOLERANCE)
            np.testing.assert_allclose(observations[b], obs["player_0"], **TOLERANCE)
            np.testing.assert_allclose(observations[b], obs["player_1"], **TOLERANCE)
            np.testing.assert_allclose(rewards[b], reward["player_0"], **TOLERANCE)
            assert truncated == truncs["player_0"] == (t == horizon - 1)
    assert np.ptp(core.qpos[:, 0]) > 0.01  # the cheetahs went separate ways
    with pytest.raises(RuntimeError, match="ended after 60 steps"):
        core.step(np.zeros((len(seeds), 6)))


def test_seeded_reset_at_one_cheetah_is_the_envs():
    env = envs.make("halfcheetah_2x3")
    observations, _ = env.reset(seed=11)
    core = BatchedHalfCheetah(1)
    np.testing.assert_array_equal(core.reset(seed=11)[0], observations["player_0"])
    qpos, qvel = env_state(env)
    np.testing.assert_array_equal(core.qpos[0], qpos)
    np.testing.assert_array_equal(core.qvel[0], qvel)


def test_reset_draws_differ_per_cheetah_and_repeat_per_seed():
    core = BatchedHalfCheetah(4, seed=3)
    first = core.reset()
    assert len({tuple(row) for row in first}) == 4
    assert not np.array_equal(core.reset(), first)  # the generator moves on
    np.testing.assert_array_equal(BatchedHalfCheetah(4, seed=3).reset(), first)
    assert np.abs(core.qpos - core.init_qpos).max() <= 0.1


def test_bad_use_is_refused():
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        BatchedHalfCheetah(0)
    with pytest.raises(ValueError, match="direction must be 1"):
        BatchedHalfCheetah(2, direction=2)
    core = BatchedHalfCheetah(2)
    with pytest.raises(RuntimeError, match="call reset"):
        core.step(np.zeros((2, 6)))
    core.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must have shape \(2, 6\)"):
        core.step(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="qpos and qvel must have shape"):
        core.set_state(np.zeros((1, 9)), np.zeros((2, 9)))
