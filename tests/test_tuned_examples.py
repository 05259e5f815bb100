"""Every shipped tuned example parses and validates (no Ray needed)."""

import pytest

import envs
from rllib_meta.experiment import load_experiments, prepare
from rllib_meta.tuned_examples import tuned_examples

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


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_tuned_example_validates(name):
    for experiment in load_experiments(EXAMPLES[name]):
        prepared = prepare(experiment)
        assert prepared.param_space["env"] in envs.env_names()
        if name == "meta_mapg_ipd_k_sweep.yaml":
            assert prepared.param_space["trajectories_per_step"] == {
                "grid_search": [4, 8, 16, 32, 64]
            }


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
