"""RLlib registration of the envs: names, deterministic agent order, sampling by an EnvRunner."""

import numpy as np
import pytest
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner
from ray.rllib.utils.pre_checks.env import check_multiagent_environments
from ray.tune.registry import ENV_CREATOR, _global_registry

import envs
import rllib_meta
from envs.rllib_env import ParallelEnvAdapter
from rllib_meta.multi_agent import module_per_agent


def test_import_registers_every_env_and_is_idempotent():
    rllib_meta.register_all()  # a second registration must not fail or change anything
    for name in envs.env_names():
        assert _global_registry.contains(ENV_CREATOR, name), name


@pytest.mark.parametrize("num_players", [2, 3, 4])
def test_registered_creator_keeps_agent_order(num_players):
    creator = _global_registry.get(ENV_CREATOR, "rps")
    env = creator({"num_players": num_players, "horizon": 3})
    assert isinstance(env, ParallelEnvAdapter)
    expected = [f"player_{i}" for i in range(num_players)]
    assert env.possible_agents == expected
    assert list(env.observation_spaces) == expected
    observations, _ = env.reset(seed=0)
    assert list(observations) == expected
    check_multiagent_environments(env)


def test_adapter_reports_all_done_at_the_horizon():
    env = _global_registry.get(ENV_CREATOR, "ipd")({"horizon": 2})
    env.reset(seed=1)
    actions = {"player_0": 0, "player_1": 1}
    _, rewards, terminateds, _, _ = env.step(actions)
    assert rewards == {"player_0": -1.5, "player_1": 1.5}
    assert terminateds["__all__"] is False
    _, _, terminateds, truncateds, _ = env.step(actions)
    assert terminateds["__all__"] is True and truncateds["__all__"] is False
    assert env.agents == []


def test_rllib_env_runner_samples_the_registered_env():
    config = (
        PPOConfig()
        .environment("rps", env_config={"num_players": 3, "horizon": 5})
        .multi_agent(
            policies={"player_0", "player_1", "player_2"},
            policy_mapping_fn=module_per_agent,
        )
        .debugging(seed=0)
    )
    runner = MultiAgentEnvRunner(config=config)
    episodes = runner.sample(num_episodes=3, random_actions=True)
    assert len(episodes) == 3
    for episode in episodes:
        assert episode.is_done and episode.env_t == 5
        returns = [episode.agent_episodes[f"player_{i}"].get_return() for i in range(3)]
        assert np.isclose(sum(returns), 0.0)  # n-player RPS is zero-sum
    runner.stop()
