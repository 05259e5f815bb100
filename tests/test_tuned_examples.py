"""Every shipped tuned example builds the config each of its trials gets (no Ray needed), and
the smallest example of every algorithm trains one iteration, shrunk through the same
overrides as ``rllib train file X --config '{...}' --stop '{"training_iteration": 1}'``."""

import itertools
import math
from collections.abc import Mapping
from typing import Any

import pytest

import envs
from rllib_meta.config_builder import KEY_ALIASES, NESTED_GROUPS, takes_object
from rllib_meta.experiment import Overrides, apply_overrides, load_experiments, prepare
from rllib_meta.registry import import_object
from rllib_meta.tuned_examples import tuned_examples
from tests import tiny_configs

EXAMPLES = tuned_examples()


def test_the_issue_examples_exist():
    expected = {
        "ppo_ipd.yaml",
        "ppo_rps.yaml",
        "ppo_ipd_lr_grid.yaml",
        "meta_mapg_ipd.yaml",
        "meta_pg_ipd.yaml",
        "lola_dice_ipd.yaml",
        "reinforce_ipd.yaml",
        "meta_mapg_rps.yaml",
        "meta_mapg_rps_3p.yaml",
        "lola_dice_rps.yaml",
        "reinforce_rps.yaml",
        "meta_mapg_ipd_om.yaml",
        "meta_mapg_ipd_k_sweep.yaml",
        "meva_logistic.yaml",
        "meva_ipd.yaml",
        "lola_logistic.yaml",
        "cola_logistic.yaml",
        "naive_ipd.yaml",
        "meva_logistic_gamma_sweep.yaml",
    }
    assert expected <= set(EXAMPLES)


def trial_spaces(space: Any) -> list[Any]:
    """Every trial's resolved param space: the grid searches expanded (as Tune does)."""
    if isinstance(space, Mapping):
        if set(space) == {"grid_search"}:
            return [trial for option in space["grid_search"] for trial in trial_spaces(option)]
        options = [trial_spaces(value) for value in space.values()]
        return [
            dict(zip(space, combination, strict=True))
            for combination in itertools.product(*options)
        ]
    return [space]


def first_choice(value: Any) -> Any:
    """``value`` as written in a file, each grid search replaced by its first option."""
    if isinstance(value, Mapping):
        if set(value) == {"grid_search"}:
            return first_choice(value["grid_search"][0])
        return {key: first_choice(option) for key, option in value.items()}
    return value


def grid_size(value: Any) -> int:
    """How many trials the grid searches in ``value`` (a file's config) make."""
    if isinstance(value, Mapping):
        own = len(value["grid_search"]) if set(value) == {"grid_search"} else 1
        return own * math.prod(grid_size(option) for option in value.values())
    return 1


def merged(written: Mapping, override: Mapping) -> dict:
    """``override`` over ``written``, nested mappings merged (``--config`` over the file)."""
    result = dict(written)
    for key, value in override.items():
        old = result.get(key)
        both = isinstance(old, Mapping) and isinstance(value, Mapping) and "grid_search" not in old
        result[key] = merged(old, value) if both else value
    return result


def assert_reaches(config: Any, key: str, written: Any, where: str) -> None:
    """The value written for ``key`` in a file is the built ``AlgorithmConfig``'s value."""
    if key in NESTED_GROUPS:
        for name, value in written.items():
            assert_reaches(config, name, value, where)
        return
    actual = getattr(config, KEY_ALIASES.get(key, key))
    if isinstance(written, str) and takes_object(key) and ":" in written:
        assert actual is import_object(written), where
    elif key == "policies":
        assert set(actual) == set(written), where
    elif isinstance(written, Mapping):  # env_config, model_config: the written keys
        assert {name: actual[name] for name in written} == dict(written), where
    else:
        assert actual == written, where


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_trial_of_a_tuned_example_builds_its_validated_config(name):
    for experiment in load_experiments(EXAMPLES[name]):
        prepared = prepare(experiment)
        trials = trial_spaces(prepared.param_space)
        assert len(trials) == grid_size(dict(experiment.config))
        defaults = prepared.algorithm_class.get_default_config
        for index, space in enumerate(trials):
            # What a Tune trial does with its resolved param space (Algorithm.__init__).
            config = defaults().update_from_dict(space)
            config.validate()
            assert config.env in envs.env_names()
            envs.make(config.env, **dict(config.env_config)).close()
            if index == 0:  # the trial of every grid's first option
                for key, written in experiment.config.items():
                    assert_reaches(config, key, first_choice(written), f"{name}: {key}")


def test_the_k_sweep_runs_one_trial_per_k():
    (experiment,) = load_experiments(EXAMPLES["meta_mapg_ipd_k_sweep.yaml"])
    trials = trial_spaces(prepare(experiment).param_space)
    assert [trial["trajectories_per_step"] for trial in trials] == [4, 8, 16, 32, 64]


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("meta_mapg_ipd.yaml", {"meta_gradient": "meta", "peer_learning": True}),
        ("meta_pg_ipd.yaml", {"meta_gradient": "meta", "peer_learning": False}),
        ("reinforce_ipd.yaml", {"meta_gradient": "reinforce", "own_learning": False}),
        ("lola_dice_ipd.yaml", {"meta_gradient": "lola", "lookahead": 1}),
        ("meta_mapg_ipd_om.yaml", {"opponent_modeling": True, "peer_learning": True}),
        ("meta_mapg_ipd_no_own_learning.yaml", {"own_learning": False}),
        ("meva_ipd.yaml", {"rule": "meva", "exploration_flip_prob": 0.0625}),
        ("cola_logistic.yaml", {"rule": "cola"}),
        ("lola_logistic.yaml", {"rule": "lola"}),
        ("naive_ipd.yaml", {"rule": "naive"}),
    ],
)
def test_algorithm_defaults_survive_the_yaml_path(name, settings):
    # The Tune param space must carry each algorithm's own defaults (MetaPG, REINFORCE and
    # LOLADiCE set theirs in get_default_config), not those of the shared config class.
    (experiment,) = load_experiments(EXAMPLES[name])
    space = prepare(experiment).param_space
    assert {key: space[key] for key in settings} == settings


# -- one iteration of every algorithm's smallest example ------------------------------------

META_MAPG_TINY = {"env_config": tiny_configs.META_MAPG_ENV_CONFIG, **tiny_configs.META_MAPG}
POLICY_PAIRS_TINY = {"policy_pairs": 8, "horizon": 4, "stride": 2}
# algorithm (`run:`) -> its smallest tuned example and the --config that shrinks it
SMALLEST = {
    "PPO": (
        "ppo_ipd.yaml",
        {
            "env_config": {"horizon": 10},
            "train_batch_size_per_learner": 200,
            "minibatch_size": 100,
            "num_epochs": 1,
            "model_config": {"fcnet_hiddens": [8]},
        },
    ),
    "MetaMAPG": ("meta_mapg_ipd.yaml", META_MAPG_TINY),
    "MetaPG": ("meta_pg_ipd.yaml", META_MAPG_TINY),
    "LOLADiCE": ("lola_dice_ipd.yaml", META_MAPG_TINY),
    "REINFORCE": ("reinforce_ipd.yaml", META_MAPG_TINY),
    "MeVa": (
        "meva_logistic.yaml",
        {**POLICY_PAIRS_TINY, "hidden_size": 8, "num_quantiles": 4},
    ),
    "COLA": ("cola_logistic.yaml", {**POLICY_PAIRS_TINY, "hidden_size": 8}),
    "LOLA": ("lola_logistic.yaml", POLICY_PAIRS_TINY),
    "NaiveLearning": ("naive_ipd.yaml", POLICY_PAIRS_TINY),
    "StackelbergMeta": (
        "stackelberg_pg_12games.yaml",
        {
            "env_config": {"game": "prisoners_dilemma"},
            "seed": 0,
            "pretraining_iterations": 1,
            "leader_iterations": 1,
            "verification_iterations": 1,
            "follower_episodes_per_iteration": 4,
            "leader_episodes_per_iteration": 6,
        },
    ),
    "StackelbergAtariTrade": (
        "stackelberg_atari_trade_seller_leads.yaml",
        {
            **tiny_configs.STACKELBERG_ATARI_TRADE,
            "env_config": tiny_configs.STACKELBERG_ATARI_TRADE_ENV_CONFIG,
            "seed": 0,
        },
    ),
    "MRA": (
        "mra_resource_occupation_small.yaml",
        {
            **{key: value for key, value in tiny_configs.MRA.items() if key != "seed"},
            "env_config": tiny_configs.MRA_ENV_CONFIG,
        },
    ),
    "FollowerLearningDemo": (
        "stackelberg_bos_reset_demo.yaml",
        {**tiny_configs.FOLLOWER_DEMO, "follower_reset": True, "seed": 0},
    ),
}


def test_every_algorithm_of_the_tuned_examples_has_a_smoke_run():
    runs = {e.run for path in EXAMPLES.values() for e in load_experiments(path)}
    assert runs == set(SMALLEST)


@pytest.mark.slow
@pytest.mark.parametrize("run", sorted(SMALLEST))
def test_the_smallest_example_of_each_algorithm_trains_one_iteration(ray_instance, run):
    name, shrink = SMALLEST[run]
    (experiment,) = load_experiments(EXAMPLES[name])
    assert experiment.run == run
    overrides = Overrides(stop={"training_iteration": 1}, config=shrink)
    prepared = prepare(apply_overrides(experiment, overrides))
    assert not prepared.has_search_spaces  # one trial
    # What Tune's trial does with the param space, in this process.
    algorithm = prepared.algorithm_class(config=prepared.param_space)
    try:
        for key, written in merged(experiment.config, shrink).items():
            assert_reaches(algorithm.config, key, first_choice(written), f"{name}: {key}")
        result = algorithm.train()
    finally:
        algorithm.stop()
    assert result["training_iteration"] == prepared.experiment.stop["training_iteration"]
    assert result["env_runners"]["num_env_steps_sampled_lifetime"] > 0
