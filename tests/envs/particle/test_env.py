"""PettingZoo API, populations, observations, configuration errors and rendering."""

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test
from PIL import Image

import envs
from envs.particle import (
    AGENT_FEATURES,
    LANDMARK_FEATURES,
    OBS_KEYS,
    BatchedParticleWorld,
    ParticleEnv,
)
from envs.particle.render import write_episode
from envs.particle.tasks import pacman_world, treasure_collection

POPULATIONS = (
    [("treasure_collection", {"num_agents": n}, (n, 0), 20) for n in (3, 6, 12, 24, 48)]
    + [("resource_occupation", {"num_agents": n}, (n, 0), 6) for n in (6, 9, 12, 15)]
    + [
        ("pacman_world", {"num_pacman": p, "num_ghosts": g}, (p, g), 20)
        for p, g in ((4, 2), (6, 3), (8, 4), (2, 8))
    ]
)


def play(env, seed=0, steps=None):
    """Random play to the end of the episode, checking every observation against its space."""
    observations, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    count = 0
    while env.agents and (steps is None or count < steps):
        for agent, obs in observations.items():
            assert env.observation_space(agent).contains(obs), agent
        observations, *_ = env.step({a: int(rng.integers(5)) for a in env.agents})
        count += 1
    return count


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("treasure_collection", {"num_agents": 3}),
        ("treasure_collection", {"num_agents": 4, "variant": "sparse", "obs_format": "flat"}),
        ("resource_occupation", {"num_agents": 6, "size_rule": "code"}),
        ("pacman_world", {"num_pacman": 2, "num_ghosts": 8}),
        ("pacman_world", {"num_pacman": 3, "num_ghosts": 2, "obs_format": "flat"}),
    ],
)
def test_parallel_api(name, config):
    parallel_api_test(envs.make(name, **config), num_cycles=60)
    play(envs.make(name, **config))


@pytest.mark.parametrize(("name", "config", "counts", "num_landmarks"), POPULATIONS)
def test_every_paper_population(name, config, counts, num_landmarks):
    env = envs.make(name, **config)
    n = sum(counts)
    assert len(env.possible_agents) == n
    observations, _ = env.reset(seed=1)
    obs = observations[env.possible_agents[-1]]
    # Per-entity widths do not depend on the population; the counts are the game descriptor.
    assert obs["self"].shape == (len(AGENT_FEATURES),)
    assert obs["others"].shape == (n - 1, len(AGENT_FEATURES))
    assert obs["landmarks"].shape == (num_landmarks, len(LANDMARK_FEATURES))
    np.testing.assert_array_equal(obs["game"], [*counts, num_landmarks])
    np.testing.assert_array_equal(obs["others_mask"], np.ones(n - 1))
    assert play(env, seed=1) <= 20


def test_padding_gives_one_shape_for_every_population():
    shapes = set()
    for n in (3, 6, 12, 24):
        env = envs.make(
            "treasure_collection", num_agents=n, max_agents=24, max_landmarks=20, obs_format="flat"
        )
        shapes.add(env.observation_space("collector_0").shape)
        obs, _ = env.reset(seed=0)
        assert env.observation_space("collector_0").contains(obs["collector_0"])
    assert len(shapes) == 1
    env = envs.make("treasure_collection", num_agents=3, max_agents=24)
    obs = env.reset(seed=0)[0]["collector_1"]
    np.testing.assert_array_equal(obs["others_mask"], [1, 1] + [0] * 21)
    assert not obs["others"][2:].any()


def test_observation_contents():
    world = BatchedParticleWorld(pacman_world(1, 1, num_food=1), 1, seed=0, dtype=np.float64)
    world.reset()
    s = world.state
    s.pos[0] = [(0.2, 0.3), (-0.4, 0.1)]
    s.vel[0] = [(0.5, 0.0), (0.0, -0.5)]
    s.landmark_pos[0] = [(0.9, 0.9)]
    obs = world.observe()
    np.testing.assert_allclose(obs["self"][0, 0], [0.2, 0.3, 0.5, 0.0, 1, 0, 1, 0.05])
    # The ghost seen by Pac-Man: relative position, own velocity, role, active, radius.
    np.testing.assert_allclose(obs["others"][0, 0, 0], [-0.6, -0.2, 0.0, -0.5, 0, 1, 1, 0.075])
    np.testing.assert_allclose(obs["landmarks"][0, 1, 0], [1.3, 0.8, 0.03, 1.0])
    np.testing.assert_allclose(obs["game"][0, 1], [1, 1, 1])


def test_caught_pacman_leaves_the_agents_and_stays_frozen():
    # Random play at (2, 8) until a Pac-Man is caught while the game goes on.
    for seed in range(50):
        env = envs.make("pacman_world", num_pacman=2, num_ghosts=8)
        env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        while env.agents:
            obs, rewards, terms, truncs, _ = env.step({a: int(rng.integers(5)) for a in env.agents})
            caught = [a for a in ("pacman_0", "pacman_1") if terms.get(a)]
            if len(caught) == 1 and env.agents and not any(truncs.values()):
                break
        else:
            continue
        (gone,) = caught
        assert rewards[gone] <= -5.0 + 2.0
        assert gone not in env.agents and gone in obs  # its last observation, then no more
        index = env.possible_agents.index(gone)
        frozen = env.world.state.pos[0, index].copy()
        obs, rewards, *_ = env.step({a: int(rng.integers(5)) for a in env.agents})
        np.testing.assert_array_equal(env.world.state.pos[0, index], frozen)
        assert gone not in rewards
        ghost_view = obs["ghost_0"]["others"][index]  # ghost_0 comes after both Pac-Man
        assert ghost_view[6] == 0.0  # the active flag
        return
    pytest.fail("no single capture in 50 random episodes")


def test_batched_resets_only_the_masked_envs():
    world = BatchedParticleWorld(treasure_collection(3), 4, seed=0)
    world.reset()
    for _ in range(5):
        world.step(np.zeros((4, 3), int))
    before = world.state.pos.copy()
    world.reset(np.array([True, False, False, True]))
    np.testing.assert_array_equal(world.state.steps, [0, 5, 5, 0])
    np.testing.assert_array_equal(world.state.pos[1:3], before[1:3])


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("treasure_collection", {"num_agents": 0}, "num_agents must be an integer in [1, 512]"),
        ("treasure_collection", {"variant": "shaped"}, "['dense', 'sparse']; got 'shaped'"),
        ("resource_occupation", {"size_rule": "0.1i"}, "['paper', 'code']; got '0.1i'"),
        ("resource_occupation", {"num_agents": 2.5}, "got 2.5"),
        ("pacman_world", {"num_ghosts": -1}, "num_ghosts must be an integer"),
        ("pacman_world", {"num_pacmen": 2}, "did you mean 'num_pacman'?"),
        ("pacman_world", {"obs_format": "tuple"}, "['dict', 'flat']; got 'tuple'"),
        ("pacman_world", {"max_agents": 3}, "max_agents must be an integer >= 6; got 3"),
        ("treasure_collection", {"render_mode": "human"}, "['rgb_array']; got 'human'"),
    ],
)
def test_invalid_configuration_is_refused_clearly(name, config, message):
    with pytest.raises(ValueError) as error:
        envs.make(name, **config)
    assert message in str(error.value)


def test_invalid_action_is_refused():
    env = envs.make("resource_occupation")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action of 'agent_0' must be an integer in \[0, 5\)"):
        env.step({a: 7 if a == "agent_0" else 0 for a in env.agents})


@pytest.mark.parametrize("suffix", [".gif", ".png"])
def test_render_and_write_episode(tmp_path, suffix):
    env = envs.make("pacman_world", num_pacman=2, num_ghosts=2, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8
    colours = {tuple(c) for c in frame.reshape(-1, 3)}
    assert {(64, 166, 64), (217, 64, 64), (64, 64, 217)} <= colours  # Pac-Man, ghosts, food
    path = write_episode(env, tmp_path / f"episode{suffix}", seed=0)
    with Image.open(path) as image:
        if suffix == ".gif":
            assert image.n_frames >= 2
        else:
            assert image.height == 256 and image.width % 256 == 0 and image.width > 256


@pytest.mark.parametrize(
    "task", [treasure_collection(4, variant="sparse"), pacman_world(2, 6, num_food=5)]
)
def test_pettingzoo_env_and_batched_core_agree_step_for_step(task):
    # Same seed, same actions: the PettingZoo env (B = 1) and a batched world give the same
    # observations, rewards and done flags, captures included.
    env = ParticleEnv(task)
    world = BatchedParticleWorld(task, 1, seed=7)
    observations, _ = env.reset(seed=7)
    batched = world.reset()
    rng = np.random.default_rng(7)
    while env.agents:
        for agent, obs in observations.items():
            i = env.possible_agents.index(agent)
            for key in OBS_KEYS:
                np.testing.assert_array_equal(obs[key], batched[key][0, i])
        actions = rng.integers(0, 5, (1, task.num_agents))
        observations, rewards, terms, truncs, _ = env.step(
            {a: int(actions[0, env.possible_agents.index(a)]) for a in env.agents}
        )
        batched, batched_rewards, terminated, truncated = world.step(actions)
        for agent in rewards:
            i = env.possible_agents.index(agent)
            assert rewards[agent] == batched_rewards[0, i]
            assert terms[agent] == terminated[0, i] and truncs[agent] == truncated[0]


def test_flat_observation_is_the_dict_concatenated():
    dict_env = envs.make("pacman_world", num_pacman=2, num_ghosts=3)
    flat_env = envs.make("pacman_world", num_pacman=2, num_ghosts=3, obs_format="flat")
    dict_obs, _ = dict_env.reset(seed=3)
    flat_obs, _ = flat_env.reset(seed=3)
    for agent in dict_env.agents:
        expected = np.concatenate([np.ravel(dict_obs[agent][key]) for key in OBS_KEYS])
        np.testing.assert_array_equal(flat_obs[agent], expected)
