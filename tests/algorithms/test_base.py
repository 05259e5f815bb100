"""The shared base of the algorithm folders: settings declared once (defaults, ``training()``,
the ``rllib`` command's key validation and ``validate()`` read the same table), the checks
applied uniformly, and the Learners' refusal of RLlib's batch ``update()``."""

import re

import pytest

from rllib_meta.algorithms import ALGORITHMS
from rllib_meta.algorithms.base.config import MetaAlgorithmConfig
from rllib_meta.algorithms.base.settings import Setting
from rllib_meta.config_builder import build_algorithm_config, builder_keys
from rllib_meta.errors import ConfigError
from rllib_meta.registry import get_algorithm_class

# A supported env per config class, for the configs that have no default env.
ENV_OF = {
    "MetaMAPGConfig": "ipd",
    "LearningRuleConfig": "logistic_game",
    "StackelbergConfig": "matrix_game",
    "StackelbergAtariTradeConfig": "atari_trade",
    "FollowerLearningDemoConfig": "battle_of_sexes",
    "MRAConfig": "resource_occupation",
}


def _default_config(name: str) -> MetaAlgorithmConfig:
    config = get_algorithm_class(name).get_default_config()
    return config.environment(ENV_OF[type(config).__name__], env_config=config.env_config)


def _bad_value(setting: Setting):
    """A value of the wrong type for ``setting``: a string for numbers and switches, a number
    for names and paths (a path setting such as ``teammate_population`` takes any string)."""
    for value in ("not a number", 12345):
        try:
            setting.check("probe", value)
        except ValueError:
            return value
    raise AssertionError(f"{setting} takes a string and a number alike")


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_algorithm_config_is_on_the_base_and_its_defaults_validate(name):
    config = _default_config(name)
    assert isinstance(config, MetaAlgorithmConfig)
    config.validate()


@pytest.mark.parametrize(
    "name",
    ["MetaMAPG", "MeVa", "StackelbergMeta", "StackelbergAtariTrade", "FollowerLearningDemo", "MRA"],
)
def test_a_new_config_holds_every_declared_default(name):
    config = get_algorithm_class(name).get_default_config()
    assert config.num_env_runners == 0
    for setting_name, setting in config.every_setting().items():
        assert getattr(config, setting_name) == setting.default, setting_name


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_declared_setting_is_a_training_key_of_the_rllib_command(name):
    config_class = type(get_algorithm_class(name).get_default_config())
    keys = builder_keys(config_class)
    for setting_name in config_class.declared_settings():
        assert keys[setting_name] == "training", setting_name


@pytest.mark.parametrize(
    "name",
    ["MetaMAPG", "MeVa", "StackelbergMeta", "StackelbergAtariTrade", "FollowerLearningDemo", "MRA"],
)
def test_every_checked_setting_refuses_a_value_of_the_wrong_type_by_name(name):
    defaults = _default_config(name)
    for setting_name, setting in defaults.declared_settings().items():
        if setting.check is None:
            continue
        config = defaults.copy(copy_frozen=False)
        setattr(config, setting_name, _bad_value(setting))
        with pytest.raises(ValueError, match=rf"^{setting_name} must be"):
            config.validate()


@pytest.mark.parametrize(
    ("name", "setting", "value", "message"),
    [
        # Meta-MAPG's booleans were never checked: 1 and "yes" trained as True.
        ("MetaMAPG", "peer_learning", 1, r"peer_learning must be one of \[True, False\], got 1"),
        ("MetaMAPG", "use_pcgrad", "yes", r"use_pcgrad must be one of \[True, False\]"),
        ("MetaMAPG", "entropy_coeff", -0.5, r"entropy_coeff must be a number in \[0.0, inf\)"),
        ("FollowerLearningDemo", "follower_reset", 0, r"follower_reset must be one of \[True"),
        ("MeVa", "meta_gamma", 1.5, r"meta_gamma must be a number in \[0.0, 1.0\], got 1.5"),
        ("StackelbergMeta", "ppo_minibatch_episodes", 0, r"ppo_minibatch_episodes must be an"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(name, setting, value, message):
    config = _default_config(name)
    setattr(config, setting, value)
    with pytest.raises(ValueError, match=message):
        config.validate()


def test_training_sets_declared_settings_and_refuses_unknown_ones():
    config = _default_config("MetaMAPG").training(chain_length=3, lr=0.5)
    assert (config.chain_length, config.lr) == (3, 0.5)
    with pytest.raises(TypeError, match="chian_length"):
        config.training(chian_length=3)


def test_a_misspelt_setting_is_refused_by_the_rllib_command_with_did_you_mean():
    defaults = get_algorithm_class("MetaMAPG").get_default_config()
    with pytest.raises(ConfigError, match=r"unknown config key 'chian_length'.*'chain_length'"):
        build_algorithm_config(defaults, {"env": "ipd", "chian_length": 3})
    config, _ = build_algorithm_config(defaults, {"env": "ipd", "chain_length": 3})
    assert config.chain_length == 3


def test_rllib_owned_settings_get_the_algorithm_defaults_and_checks():
    config = _default_config("MetaMAPG")
    assert (config.gamma, config.grad_clip, config.num_env_runners) == (0.96, 10.0, 0)
    config.gamma = 1.5
    with pytest.raises(ValueError, match=r"gamma must be a number in \[0.0, 1.0\], got 1.5"):
        config.validate()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("MeVa", "the learning-rule models are small"),
        ("StackelbergMeta", "two lookup tables"),
        ("FollowerLearningDemo", "the leader is two logits"),
        ("MRA", "the per-MG replay buffers live on the Learner"),
    ],
)
def test_single_learner_algorithms_refuse_two_learners_with_their_reason(name, message):
    config = _default_config(name).learners(num_learners=2)
    with pytest.raises(ValueError, match=rf"num_learners=2: .*{message}.*use num_learners 0 or 1"):
        config.validate()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "entry_point"),
    [
        ("MetaMAPG", "update_from_chains()"),
        ("MeVa", "update_from_trajectories()"),
        ("StackelbergMeta", "update_follower() or update_leader()"),
        ("FollowerLearningDemo", "update_from_plays()"),
        ("MRA", "update_from_transitions()"),
    ],
)
def test_rllibs_batch_update_is_refused_naming_the_entry_point(ray_instance, name, entry_point):
    config = _default_config(name)
    if name == "MetaMAPG":
        config.training(chain_length=1, trajectories_per_step=2, validation_interval=0)
    if name == "MRA":
        config.training(envs_per_population=1, hidden_size=8, key_size=4)
    algorithm = config.build_algo()
    try:
        learner = algorithm.learner_group._learner
        expected = rf"call {re.escape(entry_point)}, not update\(\)"
        with pytest.raises(NotImplementedError, match=expected):
            learner.compute_loss_for_module(
                module_id="default_policy", config=None, batch={}, fwd_out={}
            )
    finally:
        algorithm.stop()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-0.1, r"^lr must be a number in \[0\.0, inf\), got -0\.1\.$"),
        ([[0, 0.1]], r"^lr must be a number or a schedule .*, got \[\[0, 0\.1\]\]\.$"),
        ([[5, 0.1], [10, 0.0]], r"^lr: a schedule starts at timestep 0"),
        ([[0, 0.1], [-10, 0.0]], r"^lr schedule timestep 1 must be a number in \[0\.0, inf\)"),
        ([[0, 0.1], [10, "x"]], r"^lr schedule value 1 must be a number in \[0\.0, inf\)"),
    ],
)
def test_schedule_check_takes_a_value_or_rllibs_timestep_value_pairs(value, message):
    from rllib_meta.algorithms.base.settings import number, schedule

    check = schedule(number(0.0))
    check("lr", 0.1)
    check("lr", [[0, 0.1], [1000, 0.0]])
    with pytest.raises(ValueError, match=message):
        check("lr", value)


def test_or_choice_takes_the_strings_or_what_the_check_takes():
    from rllib_meta.algorithms.base.settings import integer, or_choice

    check = or_choice(integer(1), "auto")
    check("rollout_fragment_length", "auto")
    check("rollout_fragment_length", 50)
    for bad in (0, "Auto", 2.5):
        with pytest.raises(ValueError, match=r"must be an integer >= 1, got .* \(or 'auto'\)\.$"):
            check("rollout_fragment_length", bad)


@pytest.mark.parametrize(("total", "count"), [(1, 2), (5, 2), (7, 3), (4, 4), (9, 1)])
def test_shares_add_up_and_the_first_ones_take_the_remainder(total, count):
    from rllib_meta.algorithms.base.env_runner import Share

    parts = [Share(index, count).of(total) for index in range(count)]
    assert sum(parts) == total and max(parts) - min(parts) <= 1
    assert parts == sorted(parts, reverse=True)
    assert [Share.home(count, worker).of(total) for worker in range(1, count + 1)] == parts
    assert Share.home(0, 0) == Share.home(0, None) == Share(0, 1)


def test_lost_shares_are_dealt_over_the_healthy_runners():
    from rllib_meta.algorithms.base.algorithm import _assign

    # First round: each share on its home runner; runner 2 out of service.
    assert _assign([0, 1, 2], [1, 3], home=True) == {1: [0, 1], 3: [2]}
    # Retries go round-robin over the healthy runners, home or not.
    assert _assign([0, 2], [2, 3], home=False) == {2: [0], 3: [2]}
