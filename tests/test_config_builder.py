"""Config validation: unknown keys refused, search spaces and object paths resolved."""

import pytest
from ray import tune
from ray.rllib.algorithms.ppo import PPOConfig

from rllib_meta.config_builder import build_algorithm_config, builder_keys
from rllib_meta.errors import ConfigError
from rllib_meta.multi_agent import module_per_agent
from rllib_meta.yaml_loader import SourceDict


def build(config: dict):
    return build_algorithm_config(PPOConfig(), {"env": "ipd", **config})


def test_keys_go_through_builder_methods(tiny_ppo_config):
    config, has_spaces = build({**tiny_ppo_config, "lambda": 0.9, "clip_param": 0.1})
    assert not has_spaces
    assert config.lambda_ == 0.9  # classic alias of the `lambda_` argument
    assert config.clip_param == 0.1  # a PPO-specific training() argument
    assert config.train_batch_size_per_learner == 200
    assert config.policy_mapping_fn is module_per_agent  # "module:object" resolved
    assert set(config.policies) == {"player_0", "player_1"}
    assert config.env_config == {"horizon": 10}


def test_builder_keys_include_subclass_training_arguments():
    keys = builder_keys(PPOConfig)
    assert keys["clip_param"] == "training"
    assert keys["num_env_runners"] == "env_runners"
    assert keys["policy_mapping_fn"] == "multi_agent"


@pytest.mark.parametrize(
    ("config", "bad", "suggestion"),
    [
        ({"lrr": 0.1}, "lrr", "lr"),
        ({"num_env_runner": 1}, "num_env_runner", "num_env_runners"),
        ({"multi_agent": {"policy_mapping": "x"}}, "policy_mapping", "policy_mapping_fn"),
        ({"model_config": {"fcnet_hidden": [8]}}, "fcnet_hidden", "fcnet_hiddens"),
    ],
)
def test_unknown_keys_are_refused_with_did_you_mean(config, bad, suggestion):
    with pytest.raises(ConfigError, match=rf"unknown .*'{bad}'.*Did you mean '{suggestion}'"):
        build(config)


def test_error_names_the_file_line_of_the_key():
    config = SourceDict({"env": "ipd", "lrr": 1}, locations={"lrr": "exp.yaml:7"})
    with pytest.raises(ConfigError, match=r"^exp\.yaml:7 .*unknown config key 'lrr'"):
        build_algorithm_config(PPOConfig(), config)


def test_rllib_validation_errors_are_reported():
    with pytest.raises(ConfigError, match="minibatch_size"):
        build({"train_batch_size_per_learner": 100, "minibatch_size": 1000})


@pytest.mark.parametrize(
    ("env_config", "message"),
    [
        ({"horizn": 5}, "horizn"),
        ({"horizon": 0}, "horizon"),
    ],
)
def test_env_config_is_checked_by_building_the_env(env_config, message):
    with pytest.raises(ConfigError, match=message):
        build({"env_config": env_config})


def test_unknown_env_lists_the_registered_ones():
    with pytest.raises(ConfigError, match=r"unknown environment 'ipdd'.*Did you mean 'ipd'"):
        build_algorithm_config(PPOConfig(), {"env": "ipdd"})


def test_missing_env_is_an_error():
    with pytest.raises(ConfigError, match="no environment"):
        build_algorithm_config(PPOConfig(), {"lr": 0.1})


def test_bad_object_path_is_an_error():
    with pytest.raises(ConfigError, match="no attribute 'nope'"):
        build({"multi_agent": {"policy_mapping_fn": "rllib_meta.multi_agent:nope"}})


def test_search_spaces_become_tune_objects(tiny_ppo_config):
    config, has_spaces = build(
        {
            **tiny_ppo_config,
            "lr": {"grid_search": [0.1, 0.01]},
            "gamma": {"uniform": [0.9, 0.99]},
            "entropy_coeff": {"loguniform": [1e-4, 1e-2]},
            "env_config": {"horizon": {"choice": [5, 10]}},
        }
    )
    assert has_spaces
    space = config.to_dict()
    assert space["lr"] == {"grid_search": [0.1, 0.01]}
    assert isinstance(space["gamma"], tune.search.sample.Float)
    assert (space["gamma"].lower, space["gamma"].upper) == (0.9, 0.99)
    assert isinstance(space["entropy_coeff"].get_sampler(), tune.search.sample.LogUniform)
    assert isinstance(space["env_config"]["horizon"], tune.search.sample.Categorical)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"grid_search": []}, "non-empty list"),
        ({"uniform": [1.0]}, r"\[low, high\]"),
        ({"uniform": [2.0, 1.0]}, "low < high"),
        ({"loguniform": [0.0, 1.0]}, "low > 0"),
    ],
)
def test_bad_search_spaces_are_refused(space, message):
    with pytest.raises(ConfigError, match=message):
        build({"lr": space})


def test_search_space_examples_are_validated():
    # The first grid value is valid for RLlib's validate(), the config as a whole is not.
    with pytest.raises(ConfigError, match="minibatch_size"):
        build({"train_batch_size_per_learner": {"grid_search": [100, 200]}, "minibatch_size": 500})


def test_rl_module_spec_mapping_builds_specs():
    config, _ = build(
        {
            "rl_module_spec": {
                "rl_module_specs": {
                    "player_0": {
                        "module_class": (
                            "ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module:"
                            "DefaultPPOTorchRLModule"
                        ),
                        "model_config": {"fcnet_hiddens": [4]},
                    }
                }
            }
        }
    )
    spec = config._rl_module_spec.rl_module_specs["player_0"]
    assert spec.module_class.__name__ == "DefaultPPOTorchRLModule"
    with pytest.raises(ConfigError, match="unknown RLModuleSpec field 'modul_class'"):
        build({"rl_module_spec": {"modul_class": "x:y"}})


def test_multi_agent_env_without_policies_gets_one_shared_module():
    config, _ = build({})
    assert config.is_multi_agent
    assert set(config.policies) == {"shared"}
    assert config.policy_mapping_fn("player_1", None) == "shared"
