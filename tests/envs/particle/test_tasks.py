"""Each task's reward rule on hand-built configurations (values worked out by hand)."""

import numpy as np
import pytest

from envs.particle.tasks import (
    WorldState,
    pacman_world,
    resource_occupation,
    resource_sizes,
    treasure_collection,
)


def state(agents, landmarks, active=None) -> WorldState:
    pos = np.array([agents], dtype=np.float64)
    return WorldState(
        pos=pos,
        vel=np.zeros_like(pos),
        active=np.ones(pos.shape[:2], bool) if active is None else np.array([active]),
        landmark_pos=np.array([landmarks], dtype=np.float64),
    )


@pytest.mark.parametrize("variant", ["dense", "sparse"])
def test_treasure_collection_rewards(variant):
    task = treasure_collection(3, num_treasures=3, variant=variant)
    # Collectors 0 and 1 both touch treasure 0 (distance 0.06 < 0.05 + 0.025), collector 2
    # touches treasure 1 alone, treasure 2 is untouched.
    s = state(
        agents=[(-0.06, 0.0), (0.06, 0.0), (0.5, 0.5)],
        landmarks=[(0.0, 0.0), (0.5, 0.45), (-0.9, -0.9)],
    )
    before = s.landmark_pos.copy()
    reward = task.rewards(s, np.random.default_rng(0))[0]
    expected = np.array([0.5, 0.5, 1.0])
    if variant == "dense":
        expected -= 0.1 * np.array([0.06, 0.06, 0.05])
    np.testing.assert_allclose(reward, expected, atol=1e-12)
    # Treasures 0 and 1 respawned somewhere in [-1, 1]^2, treasure 2 did not move.
    assert np.all(s.landmark_pos[0, :2] != before[0, :2])
    assert np.all(np.abs(s.landmark_pos) <= 1.0)
    np.testing.assert_array_equal(s.landmark_pos[0, 2], before[0, 2])


@pytest.mark.parametrize(
    ("rule", "sizes"),
    [("paper", [0.1, 0.2, 0.3]), ("code", [0.05, 0.1, 0.15])],
)
def test_resource_sizes(rule, sizes):
    np.testing.assert_allclose(resource_sizes(3, rule), sizes)


def test_resource_occupation_rewards():
    task = resource_occupation(4, num_resources=2, size_rule="paper")  # radii 0.1, 0.2
    # Agent 0 alone on resource 1; agents 1 and 2 share resource 0; agent 3 is on none.
    s = state(
        agents=[(0.5, 0.1), (-0.5, 0.07), (-0.5, -0.07), (0.0, 0.9)],
        landmarks=[(-0.5, 0.0), (0.5, 0.0)],
    )
    reward = task.rewards(s, np.random.default_rng(0))[0]
    np.testing.assert_allclose(reward, [10 * 0.2, 10 * 0.1 / 2, 10 * 0.1 / 2, 0.0])

    # Authors' code rule: radii 0.05 and 0.1; agent 0 (0.1 from the centre of resource 1,
    # touching since 0.1 < 0.05 + 0.1) keeps it; the agents at 0.07 from resource 0 still touch.
    task = resource_occupation(4, num_resources=2, size_rule="code")
    reward = task.rewards(s, np.random.default_rng(0))[0]
    np.testing.assert_allclose(reward, [10 * 0.1, 10 * 0.05 / 2, 10 * 0.05 / 2, 0.0])


def test_pacman_world_rewards_capture_and_inactivity():
    task = pacman_world(2, 2, num_food=2)
    # Pac-Man 0 eats food 0 and is caught by ghost 0 in the same step; Pac-Man 1 is free;
    # ghost 1 is far from everything.
    s = state(
        agents=[(0.0, 0.0), (0.8, 0.8), (0.1, 0.0), (-0.5, 0.5)],
        landmarks=[(0.05, 0.0), (-0.8, -0.8)],
    )
    food_before = s.landmark_pos.copy()
    reward = task.rewards(s, np.random.default_rng(0))[0]
    pac1_food = np.hypot(0.75, 0.8)  # nearest food before respawn: food 0
    expected = [
        2.0 - 5.0 - 0.1 * 0.05,
        -0.1 * pac1_food,
        5.0 - 0.1 * 0.1,
        -0.1 * np.hypot(0.5, 0.5),
    ]
    np.testing.assert_allclose(reward, expected, atol=1e-12)
    np.testing.assert_array_equal(s.active[0], [False, True, True, True])
    assert np.all(s.landmark_pos[0, 0] != food_before[0, 0])
    np.testing.assert_array_equal(s.landmark_pos[0, 1], food_before[0, 1])

    # Next step: the caught Pac-Man earns nothing, can neither eat nor be caught again, and
    # the ghosts' shaping only looks at the Pac-Man still active.
    s.landmark_pos[0] = [(0.0, 0.0), (-0.8, -0.8)]
    reward = task.rewards(s, np.random.default_rng(0))[0]
    assert reward[0] == 0.0
    np.testing.assert_allclose(reward[2], -0.1 * np.hypot(0.7, 0.8))
    np.testing.assert_array_equal(s.landmark_pos[0, 0], [0.0, 0.0])  # not eaten


def test_two_ghosts_catching_one_pacman_both_score_and_shared_food():
    task = pacman_world(2, 2, num_food=1)
    s = state(
        agents=[(0.0, 0.0), (0.04, 0.0), (0.1, 0.0), (-0.1, 0.0)],
        landmarks=[(0.02, 0.0)],
    )
    reward = task.rewards(s, np.random.default_rng(0))[0]
    # Both Pac-Man touch the food (1 each), ghost 0 touches both Pac-Man, ghost 1 only Pac-Man 0.
    np.testing.assert_allclose(
        reward,
        [1.0 - 5.0 - 0.1 * 0.02, 1.0 - 5.0 - 0.1 * 0.02, 10.0 - 0.1 * 0.06, 5.0 - 0.1 * 0.1],
        atol=1e-12,
    )
    assert not s.active[0, :2].any()
