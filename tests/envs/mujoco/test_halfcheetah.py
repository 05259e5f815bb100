"""``halfcheetah_2x3``: PettingZoo API, full-state observations, HalfCheetah-v5's reward and its
direction, settings, RLlib registration (paper 001 section 5)."""

import numpy as np
import pytest

REASON = 'needs the mujoco extra: pip install "rllib-meta[mujoco]"'
pytest.importorskip("mujoco", reason=REASON)
pytest.importorskip("gymnasium_robotics", reason=REASON)

import gymnasium  # noqa: E402
from pettingzoo.test import parallel_api_test  # noqa: E402

import envs  # noqa: E402
from envs.mujoco import quiet_model_warnings  # noqa: E402
from envs.mujoco.halfcheetah import HalfCheetah2x3  # noqa: E402
from envs.registry import env_config_keys  # noqa: E402

PLAYERS = ["player_0", "player_1"]


def random_actions(rng: np.random.Generator, scale: float = 1.0) -> dict[str, np.ndarray]:
    return {a: rng.uniform(-scale, scale, 3).astype(np.float32) for a in PLAYERS}


@pytest.mark.parametrize("observation", ["full", "local"])
def test_parallel_api(observation):
    parallel_api_test(envs.make("halfcheetah_2x3", horizon=30, observation=observation), 100)


def test_registered_config_and_spaces():
    assert env_config_keys("halfcheetah_2x3") == {
        "horizon": 200,
        "direction": 1,
        "observation": "full",
        "reward_scale": 1.0,
        "render_mode": None,
    }
    env = envs.make("halfcheetah_2x3")
    assert isinstance(env, HalfCheetah2x3)
    assert env.possible_agents == PLAYERS
    assert env.horizon == 200
    for agent in PLAYERS:
        assert env.observation_space(agent).shape == (17,)
        space = env.action_space(agent)
        assert space.shape == (3,) and space.low.min() == -1 and space.high.max() == 1
    local = envs.make("halfcheetah_2x3", observation="local")
    assert local.observation_space("player_0").shape == (12,)


def test_players_are_the_back_and_front_legs():
    env = envs.make("halfcheetah_2x3")
    env.reset(seed=0)
    env.step({"player_0": np.array([0.1, 0.2, 0.3]), "player_1": np.array([0.4, 0.5, 0.6])})
    # MuJoCo's actuators in order: bthigh, bshin, bfoot, fthigh, fshin, ffoot.
    np.testing.assert_array_equal(env.simulation.data.ctrl, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])


def test_full_observation_is_the_state():
    env = envs.make("halfcheetah_2x3", horizon=20)
    observations, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    while env.agents:
        state = env.state()
        assert state.shape == (17,)
        for agent in PLAYERS:
            np.testing.assert_array_equal(observations[agent], state)
        data = env.simulation.data
        np.testing.assert_array_equal(state, np.concatenate([data.qpos[1:], data.qvel]))
        observations, *_ = env.step(random_actions(rng))
    np.testing.assert_array_equal(observations["player_1"], env.state())


def test_local_observations_are_mamujocos():
    env = envs.make("halfcheetah_2x3", observation="local", horizon=5)
    observations, _ = env.reset(seed=1)
    inner = env.mamujoco._get_obs()
    np.testing.assert_array_equal(observations["player_0"], inner["agent_0"])
    np.testing.assert_array_equal(observations["player_1"], inner["agent_1"])
    assert not np.array_equal(observations["player_0"], observations["player_1"])


@pytest.mark.parametrize("reward_scale", [1.0, 0.01])
def test_reward_is_halfcheetah_v5s_and_direction_flips_its_forward_part(reward_scale):
    horizon, seed = 40, 7
    right = envs.make("halfcheetah_2x3", horizon=horizon, reward_scale=reward_scale)
    left = envs.make("halfcheetah_2x3", horizon=horizon, direction=-1, reward_scale=reward_scale)
    with quiet_model_warnings():
        single = gymnasium.make("HalfCheetah-v5", max_episode_steps=horizon)
    expected_obs, _ = single.reset(seed=seed)
    for env in (right, left):
        observations, _ = env.reset(seed=seed)
        np.testing.assert_array_equal(observations["player_0"], expected_obs)
    rng = np.random.default_rng(1)
    forward_sum = 0.0
    for t in range(horizon):
        actions = random_actions(rng, scale=1.3)  # outside [-1, 1]: the cost sees them whole
        # float64, as MaMuJoCo's joint action (a float32 one would square in float32)
        joint = np.concatenate([actions["player_0"], actions["player_1"]]).astype(np.float64)
        expected_obs, reward, terminated, truncated, info = single.step(joint)
        flipped = -info["reward_forward"] + info["reward_ctrl"]
        for env, expected in ((right, reward), (left, flipped)):
            observations, rewards, terms, truncs, _ = env.step(actions)
            np.testing.assert_array_equal(observations["player_1"], expected_obs)
            assert rewards["player_0"] == rewards["player_1"]
            assert rewards["player_0"] == pytest.approx(expected * reward_scale, rel=1e-12)
            assert terms == dict.fromkeys(PLAYERS, False)
            assert truncs == dict.fromkeys(PLAYERS, t == horizon - 1)
            assert truncated == truncs["player_0"]
        forward_sum += abs(info["reward_forward"])
        assert not terminated
    assert forward_sum > 1.0  # the forward term was not negligible
    assert right.agents == [] and left.agents == []
    with pytest.raises(RuntimeError, match="finished episode"):
        right.step(random_actions(rng))


def test_missing_action_is_refused():
    env = envs.make("halfcheetah_2x3")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="player_1"):
        env.step({"player_0": np.zeros(3)})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("horizon", 0, "horizon must be an integer >= 1"),
        ("horizon", 2.5, "horizon must be an integer >= 1"),
        ("direction", 0, "direction must be 1 .* or -1"),
        ("direction", True, "direction must be 1 .* or -1"),
        ("observation", "partial", r"observation must be one of \['full', 'local'\]"),
        ("reward_scale", "big", "reward_scale must be a finite number"),
        ("reward_scale", float("nan"), "reward_scale must be a finite number"),
        ("render_mode", "human", "render_mode must be None or one of"),
    ],
)
def test_bad_settings_are_refused(key, value, message):
    with pytest.raises(ValueError, match=message):
        envs.make("halfcheetah_2x3", **{key: value})


def test_unknown_key_is_refused():
    with pytest.raises(ValueError, match="did you mean 'direction'"):
        envs.make("halfcheetah_2x3", directon=-1)


def test_registered_with_rllib():
    from ray.rllib.utils.pre_checks.env import check_multiagent_environments
    from ray.tune.registry import ENV_CREATOR, _global_registry

    import rllib_meta
    from envs.rllib_env import ParallelEnvAdapter

    rllib_meta.register_all()
    env = _global_registry.get(ENV_CREATOR, "halfcheetah_2x3")({"horizon": 3, "direction": -1})
    assert isinstance(env, ParallelEnvAdapter) and env.possible_agents == PLAYERS
    check_multiagent_environments(env)
    env.reset(seed=0)
    for _ in range(3):
        *_, truncateds, _ = env.step({a: np.zeros(3, np.float32) for a in PLAYERS})
    assert truncateds["__all__"] is True


def test_rllib_env_runner_samples_it():
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner

    import rllib_meta
    from rllib_meta.multi_agent import module_per_agent

    rllib_meta.register_all()
    config = (
        PPOConfig()
        .environment("halfcheetah_2x3", env_config={"horizon": 5, "direction": -1})
        .multi_agent(policies=set(PLAYERS), policy_mapping_fn=module_per_agent)
        .debugging(seed=0)
    )
    episodes = MultiAgentEnvRunner(config=config).sample(num_episodes=2, random_actions=True)
    assert len(episodes) == 2
    for episode in episodes:
        # Truncated at the horizon (RLlib also flags an episode whose agents are all done as
        # terminated, so is_terminated says nothing here).
        assert len(episode) == 5 and episode.is_truncated
        assert set(episode.agent_episodes) == set(PLAYERS)
