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


# -- issue 18, item 4: values checked (types, ranges, every search-space option) -------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"lr": -1}, r"^config\.lr: lr must be a number in \[0\.0, inf\), got -1"),
        ({"gamma": 1.5}, r"^config\.gamma: gamma must be a number in \[0\.0, 1\.0\], got 1\.5"),
        ({"lambda": 2}, r"^config\.lambda: lambda_ must be a number in \[0\.0, 1\.0\]"),
        ({"num_epochs": "one"}, r"num_epochs must be an integer >= 1, got 'one'"),
        ({"seed": "abc"}, r"seed must be an integer >= 0, got 'abc'"),
        ({"seed": 1.5}, r"seed must be an integer >= 0, got 1\.5"),
        ({"train_batch_size_per_learner": -200}, r"train_batch_size_per_learner must be .* >= 1"),
        ({"minibatch_size": 0}, r"minibatch_size must be an integer >= 1, got 0"),
        ({"num_env_runners": -1}, r"num_env_runners must be an integer >= 0, got -1"),
        ({"clip_param": 0}, r"clip_param must be a number in \(0\.0, inf\), got 0"),
        ({"rollout_fragment_length": 0}, r"rollout_fragment_length must be .* \(or 'auto'\)"),
        ({"lr": [[0, 1e-3], [100, -1e-4]]}, r"lr schedule value 1 must be a number in \[0\.0"),
        ({"lr": [[10, 1e-3], [100, 1e-4]]}, r"lr: a schedule starts at timestep 0"),
        ({"lr": "1e-4"}, r"got '1e-4' \(YAML reads 1e-4 as a string: write .* 1\.0e-4\)"),
        # No range declared: the type of the builder argument (Optional[int], Optional[bool]).
        ({"metrics_num_episodes_for_smoothing": "one"}, r"must be an integer or null .*'one'"),
        ({"explore": "yes"}, r"explore must be True or False or null \(None\), got str 'yes'"),
        ({"env_config": [1]}, r"env_config must be a mapping or null \(None\), got list"),
        ({"model_config": 5}, r"model_config must be a mapping .* got int 5"),
    ],
)
def test_bad_values_of_rllib_settings_are_refused_naming_the_key(config, message):
    with pytest.raises(ConfigError, match=message):
        build(config)


@pytest.mark.parametrize(
    "config",
    [
        {"lr": [[0, 1e-3], [1000, 1e-4]]},  # an lr schedule
        {"entropy_coeff": [[0, 0.01], [1000, 0.0]]},
        {"gamma": 1},  # an int where a float is declared
        {"rollout_fragment_length": "auto"},
        {"num_cpus_per_env_runner": 0.5},  # fractional CPUs are Ray resources
        {"offline_sampling": True},  # RLlib's annotation says str, its default is a bool
        {"seed": None},
        {"grad_clip": None},
    ],
)
def test_good_values_of_rllib_settings_are_accepted(config):
    build(config)


def test_value_errors_name_the_file_line_of_the_key():
    config = SourceDict({"env": "ipd", "gamma": 1.5}, locations={"gamma": "exp.yaml:9"})
    with pytest.raises(ConfigError, match=r"^exp\.yaml:9 \(config\.gamma\): gamma must be"):
        build_algorithm_config(PPOConfig(), config)


def test_dqn_values_are_checked_too():
    from ray.rllib.algorithms.dqn import DQNConfig

    for config, message in [
        ({"gamma": -0.1}, "gamma must be a number in"),
        ({"target_network_update_freq": -5}, "target_network_update_freq must be an integer >= 0"),
        ({"double_q": "no"}, "double_q must be True or False"),
    ]:
        with pytest.raises(ConfigError, match=message):
            build_algorithm_config(DQNConfig(), {"env": "ipd", **config})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"lr": {"grid_search": [0.1, -0.1]}}, r"^config\.lr grid_search\[1\]: lr must be"),
        ({"gamma": {"uniform": [0.5, 1.5]}}, r"^config\.gamma uniform\[1\]: gamma must be"),
        ({"seed": {"choice": [1, "x"]}}, r"choice\[1\]: seed must be an integer"),
        (
            {"env_config": {"horizon": {"grid_search": [5, 0]}}},
            r"horizon must be an integer >= 1.*trials of .*horizon\.grid_search\[1\] = 0",
        ),
        (
            # RLlib's validate() on every option, not only the first
            {"minibatch_size": {"grid_search": [10, 10000]}},
            r"(?s)minibatch_size.*trials of .*grid_search\[1\] = 10000",
        ),
    ],
)
def test_every_search_space_option_is_checked(config, message):
    with pytest.raises(ConfigError, match=message):
        build(config)


def test_rllib_settings_of_our_algorithms_and_their_options_are_checked():
    from rllib_meta.algorithms.meta_mapg.algorithm import MetaMAPG

    defaults = MetaMAPG.get_default_config()
    for config, message in [
        ({"num_env_runners": -2}, "num_env_runners must be an integer >= 0"),
        ({"chain_length": {"grid_search": [2, 0]}}, r"grid_search\[1\]: chain_length must be"),
        ({"gamma": {"grid_search": [0.9, 1.2]}}, r"grid_search\[1\]: gamma must be"),
    ]:
        with pytest.raises(ConfigError, match=message):
            build_algorithm_config(defaults, {"env": "ipd", **config})


# -- issue 18, item 5: other libraries' names, unsupported envs ----------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("learning_rate", r"unknown config key 'learning_rate'\. Did you mean 'lr'"),
        ("discount", r"unknown config key 'discount'\. Did you mean 'gamma'"),
        ("sgd_minibatch_size", r"'sgd_minibatch_size'\. Did you mean 'minibatch_size'"),
        ("num_sgd_iter", r"'num_sgd_iter' is deprecated in RLlib 2\.60; write 'num_epochs'"),
        ("num_rollout_workers", r"'num_rollout_workers' is deprecated .* 'num_env_runners'"),
        ("num_envs_per_worker", r"write 'num_envs_per_env_runner'"),
    ],
)
def test_old_and_foreign_key_names_suggest_the_one_to_write(key, message):
    with pytest.raises(ConfigError, match=message):
        build({key: 1})


def test_an_algorithm_refuses_an_env_it_does_not_support_before_building_it():
    from rllib_meta.algorithms.stackelberg.algorithm import StackelbergMeta

    with pytest.raises(ConfigError) as error:
        build_algorithm_config(StackelbergMeta.get_default_config(), {"env": "ipd"})
    message = str(error.value)
    assert (
        "env must be one of ['matrix_game'], got 'ipd' (StackelbergMeta supports only these envs)"
        in message
    )
    assert "center" not in message  # a key of its default env_config, never written
