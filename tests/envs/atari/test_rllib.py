"""The trade env through RLlib: registered, checked by RLlib, sampled by PPO's EnvRunner with
RLlib's default models (MultiDiscrete actions; RAM vectors, and frames with the default CNN)."""

import pytest

from tests.envs.atari import require_atari_extra

require_atari_extra()

from ray.rllib.algorithms.ppo import PPOConfig  # noqa: E402
from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner  # noqa: E402
from ray.rllib.utils.pre_checks.env import check_multiagent_environments  # noqa: E402
from ray.tune.registry import ENV_CREATOR, _global_registry  # noqa: E402

import rllib_meta  # noqa: E402
from envs.atari.trade import BUYER, SELLER  # noqa: E402
from rllib_meta.multi_agent import module_per_role  # noqa: E402


def test_registered_and_accepted_by_rllibs_checks():
    rllib_meta.register_all()
    env = _global_registry.get(ENV_CREATOR, "atari_trade")({"max_cycles": 30})
    check_multiagent_environments(env)
    observations, _ = env.reset(seed=0)
    assert list(observations) == env.possible_agents == [SELLER, BUYER]


@pytest.mark.parametrize(
    ("env_config", "model_config"),
    [
        ({"max_cycles": 25, "bullet_rate": 0.3}, {"fcnet_hiddens": [16]}),
        ({"max_cycles": 6, "obs_type": "frames"}, {"head_fcnet_hiddens": [16]}),
    ],
)
def test_ppo_env_runner_samples_one_module_per_role(env_config, model_config):
    rllib_meta.register_all()
    config = (
        PPOConfig()
        .environment("atari_trade", env_config=env_config)
        .multi_agent(policies={"seller", "buyer"}, policy_mapping_fn=module_per_role)
        .rl_module(model_config=model_config)
        .debugging(seed=0)
    )
    runner = MultiAgentEnvRunner(config=config)
    episodes = runner.sample(num_episodes=2, explore=True)
    assert set(runner.module.keys()) == {"seller", "buyer"}
    for episode in episodes:
        assert episode.env_steps() == env_config["max_cycles"]
        assert {episode.module_for(agent) for agent in episode.agent_ids} == {"seller", "buyer"}
        seller_actions = episode.agent_episodes[SELLER].get_actions()
        assert seller_actions.shape == (env_config["max_cycles"], 2)
    runner.stop()
