"""Persona populations (paper 001, Appendix E.1-E.2) and the shipped data files."""

from __future__ import annotations

import numpy as np
import pytest

from envs.matrix import personas
from envs.matrix.personas import (
    DEFAULT_SEED,
    PersonaPopulation,
    generate_ipd_population,
    generate_rps_population,
    load_population,
    population_for_game,
    read_population,
    save_population,
)


@pytest.fixture(scope="module")
def ipd_population() -> PersonaPopulation:
    return generate_ipd_population()


@pytest.fixture(scope="module")
def rps_population() -> PersonaPopulation:
    return generate_rps_population()


def _kind_counts(population: PersonaPopulation, split: str) -> list[int]:
    kinds = population.kinds[population.indices(split)]
    return np.bincount(kinds, minlength=len(population.kind_names)).tolist()


def test_ipd_counts_per_kind_and_split(ipd_population):
    assert ipd_population.game == "ipd"
    assert ipd_population.probs.shape == (520, 5, 2)
    assert ipd_population.kind_names == ("cooperating", "defecting")
    assert list(ipd_population.splits) == ["train", "val", "test", "test_ood"]
    expected = {"train": [200, 200], "val": [20, 20], "test": [20, 20], "test_ood": [20, 20]}
    for split, counts in expected.items():
        assert _kind_counts(ipd_population, split) == counts


def test_rps_counts_per_kind_and_split(rps_population):
    assert rps_population.game == "rps"
    assert rps_population.probs.shape == (720, 10, 3)
    assert rps_population.kind_names == ("rock", "paper", "scissors")
    assert list(rps_population.splits) == ["train", "val", "test"]
    expected = {"train": [200] * 3, "val": [20] * 3, "test": [20] * 3}
    for split, counts in expected.items():
        assert _kind_counts(rps_population, split) == counts


@pytest.mark.parametrize("name", ["ipd_population", "rps_population"])
def test_splits_are_disjoint_and_cover_everything(name, request):
    population = request.getfixturevalue(name)
    everything = np.concatenate(list(population.splits.values()))
    assert np.array_equal(np.sort(everything), np.arange(population.num_personas))


def test_ipd_probabilities_lie_in_their_ranges(ipd_population):
    np.testing.assert_allclose(ipd_population.probs.sum(-1), 1.0, rtol=0, atol=1e-15)
    cooperate = ipd_population.probs[..., 0]
    in_distribution = np.concatenate([ipd_population.indices(s) for s in ("train", "val", "test")])
    ood = ipd_population.indices("test_ood")
    ranges = {
        ("cooperating", False): (0.5, 1.0),
        ("defecting", False): (0.0, 0.5),
        ("cooperating", True): (0.9, 1.0),
        ("defecting", True): (0.0, 0.1),
    }
    for (kind, is_ood), (low, high) in ranges.items():
        chosen = np.intersect1d(ipd_population.of_kind(kind), ood if is_ood else in_distribution)
        values = cooperate[chosen]
        assert values.min() >= low and values.max() < high and values.min() > 0.0
        # Spread over the whole range, independently per state (not one value per persona).
        assert values.max() - values.min() > 0.8 * (high - low)
        assert np.ptp(values, axis=1).min() > 0.0


def test_ipd_ood_personas_are_farther_from_the_middle(ipd_population):
    distance = np.abs(ipd_population.probs[..., 0] - 0.5).mean(axis=1)
    ood = distance[ipd_population.indices("test_ood")]
    train = distance[ipd_population.indices("train")]
    assert ood.min() > 0.4 and np.median(train) < 0.3


def test_rps_preferred_action_is_largest_and_others_share_equally(rps_population):
    probs = rps_population.probs
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=0, atol=1e-15)
    for kind, name in enumerate(rps_population.kind_names):
        chosen = probs[rps_population.of_kind(name)]
        preferred = chosen[..., kind]
        others = np.delete(chosen, kind, axis=-1)
        assert np.all(preferred >= 1 / 3) and np.all(preferred < 1.0)
        assert np.all(preferred[..., None] > others)
        np.testing.assert_allclose(others[..., 0], others[..., 1], rtol=0, atol=1e-15)
        np.testing.assert_allclose(others[..., 0], (1 - preferred) / 2, rtol=0, atol=1e-15)
        assert preferred.max() - preferred.min() > 0.6  # spans most of U(1/3, 1)


@pytest.mark.parametrize(("num_players", "states"), [(3, 28), (4, 82)])
def test_rps_for_more_players_is_generated_on_the_fly(num_players, states):
    population = generate_rps_population(num_players=num_players)
    assert population.game == f"rps_{num_players}p"
    assert population.probs.shape == (720, states, 3)
    assert population == population_for_game(f"rps_{num_players}p")


def test_generation_is_deterministic_and_seeded(ipd_population):
    assert ipd_population == generate_ipd_population(DEFAULT_SEED)
    assert generate_ipd_population(5) == generate_ipd_population(5)
    assert generate_ipd_population(5) != generate_ipd_population(6)
    assert generate_rps_population(5) == generate_rps_population(5)
    assert not np.array_equal(generate_rps_population(5).probs, generate_rps_population(6).probs)


@pytest.mark.parametrize("game", ["ipd", "rps"])
def test_shipped_files_equal_a_fresh_regeneration(game, ipd_population, rps_population):
    fresh = {"ipd": ipd_population, "rps": rps_population}[game]
    shipped = load_population(game)
    assert shipped == fresh
    assert np.array_equal(shipped.probs, fresh.probs)  # exact, not approximate
    assert population_for_game(game) == fresh


def test_regeneration_reproduces_the_shipped_bytes(tmp_path):
    personas.main(["--output-dir", str(tmp_path)])
    shipped = personas._shipped_directory()
    for game in ("ipd", "rps"):
        name = f"personas_{game}.npz"
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes()


def test_save_and_read_round_trip(tmp_path, ipd_population):
    path = save_population(ipd_population, tmp_path / "nested" / "population.npz")
    assert read_population(path) == ipd_population
    with np.load(path, allow_pickle=False) as archive:  # plain npz, no pickles
        assert archive["probs"].dtype == np.float64


def test_split_view_logits_and_kinds(ipd_population):
    test = ipd_population.split("test")
    assert test.num_personas == 40 and list(test.splits) == ["test"]
    np.testing.assert_array_equal(test.probs, ipd_population.probs[ipd_population.indices("test")])
    logits = ipd_population.logits(ipd_population.indices("val"))
    assert logits.shape == (40, 5, 2) and np.all(np.isfinite(logits))
    np.testing.assert_allclose(np.exp(logits), ipd_population.probs[ipd_population.indices("val")])
    defecting_test = ipd_population.of_kind("defecting", split="test")
    assert defecting_test.size == 20
    assert np.all(ipd_population.kinds[defecting_test] == 1)
    assert np.all(np.isin(defecting_test, ipd_population.indices("test")))


def test_population_is_read_only(ipd_population):
    with pytest.raises(ValueError):
        ipd_population.probs[0, 0, 0] = 0.5
    with pytest.raises(ValueError):
        ipd_population.splits["train"][0] = 3


def test_invalid_populations_and_names_are_rejected(ipd_population):
    probs = np.full((2, 5, 2), 0.5)
    with pytest.raises(ValueError, match="sum to 1"):
        PersonaPopulation("ipd", np.full((2, 5, 2), 0.4), [0, 1], ("a", "b"), {})
    with pytest.raises(ValueError, match="overlaps"):
        PersonaPopulation("ipd", probs, [0, 1], ("a", "b"), {"x": [0], "y": [0, 1]})
    with pytest.raises(ValueError, match="kinds"):
        PersonaPopulation("ipd", probs, [0, 2], ("a", "b"), {})
    with pytest.raises(ValueError, match="no shipped"):
        load_population("rps_3p")
    with pytest.raises(KeyError):
        ipd_population.indices("nope")
    with pytest.raises(KeyError):
        ipd_population.of_kind("rock")
    with pytest.raises(ValueError, match="num_players"):
        generate_rps_population(num_players=5)
