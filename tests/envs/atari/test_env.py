"""The trade env: PettingZoo API, configuration, masks, trade accounting, kill rewards, seeded
bullet arrivals, frame observations, and the game facts of envs.atari.space_invaders."""

import inspect

import numpy as np
import pytest

from tests.envs.atari import require_atari_extra

require_atari_extra()

from pettingzoo.test import parallel_api_test  # noqa: E402

import envs  # noqa: E402
from envs.atari.observations import NUM_TRADE_FEATURES, FrameStack  # noqa: E402
from envs.atari.space_invaders import (  # noqa: E402
    RAM_INVADERS_LEFT,
    RAM_LIVES,
    invader_kills,
    make_space_invaders,
    rom_directory,
)
from envs.atari.stackelberg import PRICES  # noqa: E402
from envs.atari.trade import ACCEPT, BUYER, KEEP, REJECT, SELLER, AtariTradeEnv  # noqa: E402
from envs.registry import env_config_keys  # noqa: E402
from tests.envs.atari.helpers import play  # noqa: E402

NOOP, FIRE, RIGHT, LEFT = 0, 1, 2, 3


def offer(price: float) -> int:
    return 1 + PRICES.index(price)


# -- API and configuration ----------------------------------------------------------------


@pytest.mark.parametrize("config", [{}, {"obs_type": "frames", "frame_skip": 2}])
def test_parallel_api(config):
    env = envs.make("atari_trade", bullet_rate=0.3, **config)
    parallel_api_test(env, num_cycles=150)
    observations, infos = env.reset(seed=0)
    assert env.possible_agents == [SELLER, BUYER] and list(observations) == [SELLER, BUYER]
    for _ in range(50):
        actions = {a: env.action_space(a).sample(infos[a]["action_mask"]) for a in env.agents}
        observations, _, _, _, infos = env.step(actions)
        for agent in env.agents:
            assert env.observation_space(agent).contains(observations[agent])


def test_registry_defaults_are_the_env_defaults():
    signature = inspect.signature(AtariTradeEnv).parameters
    assert env_config_keys("atari_trade") == {k: p.default for k, p in signature.items()}
    env = envs.make("atari_trade")
    assert env.observation_space(SELLER).shape == (128 + NUM_TRADE_FEATURES,)
    assert env.action_space(SELLER).nvec.tolist() == [6, 6]
    assert env.action_space(BUYER).nvec.tolist() == [6, 2]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("bullet_rate", 1.5, r"bullet_rate must be a number in \[0.0, 1.0\]; got 1.5"),
        ("max_bullets", 0, "max_bullets must be an integer >= 1; got 0"),
        ("frame_skip", 2.0, "frame_skip must be an integer >= 1"),
        ("obs_type", "rgb", r"obs_type must be one of \['ram', 'frames'\]; got 'rgb'"),
        ("render_mode", "human", "render_mode must be None or one of"),
        ("max_cycles", True, "max_cycles must be an integer"),
    ],
)
def test_bad_config_values_are_named(key, value, message):
    with pytest.raises(ValueError, match=message):
        envs.make("atari_trade", **{key: value})


def test_bad_actions_and_finished_episodes_are_refused():
    env = AtariTradeEnv(max_cycles=1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action of 'buyer_0' must be \(ship in \[0, 6\), trade"):
        env.step({SELLER: (0, 0), BUYER: (0, 2)})
    with pytest.raises(ValueError, match="missing action for 'seller_0'"):
        env.step({BUYER: (0, 0)})
    _, _, terminations, truncations, _ = env.step({SELLER: (0, 0), BUYER: (0, 0)})
    assert truncations == {SELLER: True, BUYER: True} and not any(terminations.values())
    assert env.agents == []
    with pytest.raises(RuntimeError, match="finished episode"):
        env.step({SELLER: (0, 0), BUYER: (0, 0)})


# -- Trade accounting and masks -------------------------------------------------------------


def test_trade_moves_the_bullet_and_the_price_and_nothing_else():
    env = AtariTradeEnv(bullet_rate=1.0, max_bullets=2)
    _, infos = env.reset(seed=0)
    assert infos[SELLER]["action_mask"][1].tolist() == [1, 0, 0, 0, 0, 0]  # nothing to offer

    def step(seller, buyer):
        _, rewards, _, _, infos = env.step({SELLER: seller, BUYER: buyer})
        return rewards, infos

    # Step 0: an offer without a bullet is a keep; accept without an offer moves nothing.
    rewards, infos = step((NOOP, offer(0.5)), (NOOP, ACCEPT))
    assert rewards == {SELLER: 0.0, BUYER: 0.0} and env.pending_offer is None
    assert env.bullets == {SELLER: 1, BUYER: 0}  # the arrival at the end of the step
    # Step 1: the seller offers its bullet at 0.75; it is held back (no FIRE, no second offer).
    rewards, infos = step((NOOP, offer(0.75)), (NOOP, ACCEPT))
    assert rewards == {SELLER: 0.0, BUYER: 0.0} and env.pending_offer == 0.75
    assert infos[SELLER]["offer"] == PRICES.index(0.75) == infos[BUYER]["offer"]
    assert env.bullets == {SELLER: 2, BUYER: 0}
    assert infos[SELLER]["action_mask"][0].tolist() == [1, 1, 1, 1, 1, 1]  # the arrival is free
    assert infos[BUYER]["action_mask"][1].tolist() == [1, 1]  # accept is possible now
    # Step 2: rejected: the bullet stays, no price moves; the seller offers again at 0.25.
    rewards, infos = step((NOOP, offer(0.25)), (NOOP, REJECT))
    assert rewards == {SELLER: 0.0, BUYER: 0.0} and not infos[BUYER]["traded"]
    assert env.bullets == {SELLER: 2, BUYER: 0} and env.pending_offer == 0.25
    # Step 3: accepted: the bullet moves, 0.25 leaves the buyer's reward and enters the seller's.
    rewards, infos = step((NOOP, KEEP), (NOOP, ACCEPT))
    assert rewards == {SELLER: 0.25, BUYER: -0.25}
    assert infos[SELLER]["traded"] and infos[BUYER]["price"] == 0.25
    assert env.bullets == {SELLER: 2, BUYER: 1} and env.pending_offer is None
    assert infos[BUYER]["action_mask"][0].tolist() == [1, 1, 1, 1, 1, 1]  # the buyer may fire
    # Steps 4-5: price 0 trades too (the bullet moves, no reward does); at max_bullets the
    # buyer's accept is masked and executed as a reject.
    step((NOOP, offer(0.0)), (NOOP, REJECT))
    rewards, infos = step((NOOP, offer(1.0)), (NOOP, ACCEPT))
    assert rewards == {SELLER: 0.0, BUYER: 0.0} and infos[BUYER]["traded"]
    assert env.bullets == {SELLER: 2, BUYER: 2}  # sold one, one arrived; one is on offer
    assert infos[BUYER]["action_mask"][1].tolist() == [1, 0]  # full: accept is masked
    rewards, infos = step((NOOP, KEEP), (NOOP, ACCEPT))
    assert rewards == {SELLER: 0.0, BUYER: 0.0} and not infos[BUYER]["traded"]
    assert env.bullets == {SELLER: 2, BUYER: 2}


def test_rewards_are_kills_and_prices_only():
    # Both ships hold FIRE and move; the seller sells every other bullet at 0.5 (over ~2500
    # frames invaders die and ships are hit, which the game scores +200 for the other ship).
    env = AtariTradeEnv(bullet_rate=0.5, max_bullets=3, max_cycles=640)
    rng = np.random.default_rng(0)

    def script(t, infos):
        return {
            SELLER: ((FIRE, 4, 5)[rng.integers(3)], offer(0.5) if t % 2 else KEEP),
            BUYER: ((FIRE, 4, 5)[rng.integers(3)], ACCEPT),
        }

    trace = play(env, script, 640)
    lives_lost = trades = 0
    for t, (rewards, infos) in enumerate(zip(trace.rewards, trace.infos, strict=True)):
        price = infos[BUYER]["price"]
        assert rewards[SELLER] == pytest.approx(0.1 * infos[SELLER]["kills"] + price)
        assert rewards[BUYER] == pytest.approx(1.0 * infos[BUYER]["kills"] - price)
        before, after = trace.rams[t], trace.rams[t + 1]
        dropped = int(before[RAM_INVADERS_LEFT]) - int(after[RAM_INVADERS_LEFT])
        if dropped >= 0:  # (a new wave refills RAM 17)
            assert infos[SELLER]["kills"] + infos[BUYER]["kills"] == dropped, t
        lives_lost += after[RAM_LIVES] < before[RAM_LIVES]
        trades += infos[BUYER]["traded"]
    assert sum(i[SELLER]["kills"] for i in trace.infos) >= 3
    assert sum(i[BUYER]["kills"] for i in trace.infos) >= 3
    assert lives_lost >= 1 and trades >= 10  # the +200 events happened and paid nothing


def test_invader_kills_read_the_score_modulo_100():
    assert invader_kills([25, 0], True) == (1, 0)
    assert invader_kills([0, 5], True) == (0, 1)
    assert invader_kills([10, 30], True) == (1, 1)
    assert invader_kills([200, 0], False) == (0, 0)  # the other ship was hit
    assert invader_kills([230, 0], True) == (1, 0)  # a kill and the bonus in one frame
    assert invader_kills([100, 0], False) == (0, 0)  # the command ship is no invader
    assert invader_kills([15, 0], False) == (0, 0)  # no invader left the RAM count


# -- Seeded bullet arrivals ----------------------------------------------------------------


def arrivals(env, seed, steps=300):
    env.reset(seed=seed)
    received = []
    for _ in range(steps):  # the seller never spends: each step's gain is an arrival
        before = env.bullets[SELLER]
        env.step({SELLER: (NOOP, KEEP), BUYER: (NOOP, REJECT)})
        received.append(env.bullets[SELLER] - before)
    return received


def test_seeded_bullet_arrivals_repeat():
    env = AtariTradeEnv(bullet_rate=0.2, max_bullets=300, frame_skip=1)
    first = arrivals(env, seed=7)
    assert arrivals(env, seed=7) == first
    assert arrivals(AtariTradeEnv(bullet_rate=0.2, max_bullets=300, frame_skip=1), 7) == first
    assert arrivals(env, seed=8) != first
    assert set(first) == {0, 1} and 30 <= sum(first) <= 90  # one at a time, rate 0.2 of 300


def test_arrivals_stop_at_max_bullets_and_rate_zero_gives_none():
    env = AtariTradeEnv(bullet_rate=1.0, max_bullets=3, frame_skip=1)
    assert arrivals(env, 0, steps=10) == [1, 1, 1] + [0] * 7
    assert sum(arrivals(AtariTradeEnv(bullet_rate=0.0, frame_skip=1), 0, steps=50)) == 0


# -- Observations --------------------------------------------------------------------------


def test_ram_observation_is_the_ram_then_the_trade_vector():
    env = AtariTradeEnv(bullet_rate=1.0, max_bullets=4)
    env.reset(seed=0)
    env.step({SELLER: (NOOP, KEEP), BUYER: (NOOP, REJECT)})
    observations, *_ = env.step({SELLER: (NOOP, offer(0.25)), BUYER: (NOOP, REJECT)})
    observation = observations[SELLER]
    assert observation is observations[BUYER]  # both agents see the same (as PettingZoo's)
    np.testing.assert_array_equal(np.rint(observation[:128] * 255), env.ale.getRAM())
    np.testing.assert_allclose(observation[128:], [2 / 4, 0, 0, 0, 1, 0, 0, 0])


def test_frame_observation_stacks_screens_and_trade_planes():
    env = AtariTradeEnv(obs_type="frames", frame_stack=3, frame_size=42, bullet_rate=1.0)
    observations, _ = env.reset(seed=0)
    assert observations[SELLER].shape == (42, 42, 3 + NUM_TRADE_FEATURES)
    for _ in range(5):
        observations, *_ = env.step({SELLER: (RIGHT, KEEP), BUYER: (LEFT, REJECT)})
    frames = observations[SELLER]
    assert frames.dtype == np.float32 and not np.array_equal(frames[..., 0], frames[..., 2])
    assert 0 < frames[..., :3].max() <= 1 and frames.min() >= 0
    np.testing.assert_array_equal(frames[..., 3], np.ones((42, 42)))  # 5 of 5 bullets
    np.testing.assert_array_equal(frames[..., 4], np.zeros((42, 42)))  # the buyer's none
    np.testing.assert_array_equal(frames[..., 5], np.ones((42, 42)))  # no offer pending


def test_max_pooling_keeps_a_one_pixel_shot():
    stack = FrameStack(size=84, stack=1)
    screen = np.zeros((210, 160), np.uint8)
    screen[100:104, 77] = 200  # a shot one pixel wide
    small = stack.shrink(screen)
    assert small.shape == (84, 84) and small.max() == 200 and (small > 0).sum() >= 1


def test_render_gives_the_rgb_screen():
    env = AtariTradeEnv(render_mode="rgb_array")
    env.reset(seed=0)
    assert env.render().shape == (210, 160, 3)
    assert AtariTradeEnv().render() is None


# -- The game ------------------------------------------------------------------------------


def test_the_rom_comes_from_ale_py_and_the_action_set_is_the_minimal_one():
    assert (rom_directory() / "space_invaders.bin").is_file()
    assert rom_directory().parent.name == "ale_py"
    game = make_space_invaders()
    assert game.possible_agents == ["first_0", "second_0"]
    assert np.asarray(game.action_mapping).tolist() == [0, 1, 3, 4, 11, 12]
