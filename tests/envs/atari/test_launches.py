"""Bullets and shots, frame by frame (frame_skip=1), checked against the shots the RAM shows:
no shot without a bullet, one bullet per launched shot for each player, both firing at once,
both ships at the same x (the replayed frames), and random play."""

import numpy as np
import pytest

from tests.envs.atari import require_atari_extra

require_atari_extra()

from envs.atari.space_invaders import NO_SHOT, RAM_SHIP_X, RAM_SHOT_Y  # noqa: E402
from envs.atari.trade import ACCEPT, BUYER, KEEP, REJECT, SELLER, AtariTradeEnv  # noqa: E402
from tests.envs.atari.helpers import launches_in_ram, owner_by_x, play  # noqa: E402

NOOP, FIRE, RIGHT, LEFT = 0, 1, 2, 3
OFFER_AT_ZERO = 1  # trade action 1: offer one bullet at price 0


def ram_launches(trace):
    """Per step, the x of each shot launched in its frame, read from the RAM."""
    return [launches_in_ram(trace.rams[t], trace.rams[t + 1]) for t in range(len(trace.infos))]


def test_no_shot_without_a_bullet():
    env = AtariTradeEnv(bullet_rate=0.0, frame_skip=1)
    trace = play(env, lambda t, i: {SELLER: (FIRE, KEEP), BUYER: (FIRE, ACCEPT)}, 600)
    assert len(trace.infos) == 600  # past the game's start delay (it launches from frame ~126)
    for ram in trace.rams:
        assert ram[RAM_SHOT_Y[0]] == NO_SHOT and ram[RAM_SHOT_Y[1]] == NO_SHOT
    for infos in trace.infos:
        for agent in (SELLER, BUYER):
            assert infos[agent]["shots"] == 0 and infos[agent]["bullets"] == 0
            assert infos[agent]["action_mask"][0].tolist() == [1, 0, 1, 1, 0, 0]  # no FIRE


def check_bullet_balance(trace):
    """Each step: the buyer gains what it buys, each ship loses one bullet per shot it
    launched, the seller gains at most one arrival; nobody ever holds a negative count."""
    for before, infos in zip(trace.bullets_before, trace.infos, strict=True):
        traded = int(infos[BUYER]["traded"])
        assert infos[BUYER]["bullets"] == before[BUYER] + traded - infos[BUYER]["shots"]
        arrival = infos[SELLER]["bullets"] - (before[SELLER] - traded - infos[SELLER]["shots"])
        assert arrival in (0, 1)
        assert infos[SELLER]["bullets"] >= 0 and infos[BUYER]["bullets"] >= 0


def test_one_bullet_per_launched_shot_for_each_player_firing_at_once():
    # The seller gets a bullet every step and offers one at price 0 whenever it can; the buyer
    # accepts. Both hold FIRE all the time, ships apart (x 35 and 117): the game auto-fires.
    env = AtariTradeEnv(bullet_rate=1.0, max_bullets=3, frame_skip=1)
    trace = play(env, lambda t, i: {SELLER: (FIRE, OFFER_AT_ZERO), BUYER: (FIRE, ACCEPT)}, 1500)
    counted = {SELLER: 0, BUYER: 0}
    both_in_flight = 0
    for t, fresh in enumerate(ram_launches(trace)):
        ram = trace.rams[t + 1]
        expected = {SELLER: 0, BUYER: 0}
        for x in fresh:
            (owner,) = owner_by_x(ram, x)
            expected[(SELLER, BUYER)[owner]] += 1
        for agent in (SELLER, BUYER):
            assert trace.infos[t][agent]["shots"] == expected[agent], (t, agent, fresh)
            counted[agent] += expected[agent]
        both_in_flight += ram[RAM_SHOT_Y[0]] != NO_SHOT and ram[RAM_SHOT_Y[1]] != NO_SHOT
    check_bullet_balance(trace)
    assert counted[SELLER] >= 8 and counted[BUYER] >= 8, counted
    assert both_in_flight > 100  # the slots were shared (and swapped) most of the time
    assert env.unresolved_launches == 0


def same_x_duel(press_step: int):
    """Both ships at x 35 with one bullet each press FIRE from ``press_step`` until each has
    launched its shot, so both shots climb the same column. Returns the env's launch order
    (who was given the first and the second shot) and the killer the game credits with the
    first invader kill, with the slot of the shot that made it (slot 0 holds the older shot)."""
    env = AtariTradeEnv(bullet_rate=1.0, max_bullets=1, frame_skip=1, max_cycles=700)
    launched: list[str] = []

    def script(t, infos):
        for agent in (SELLER, BUYER):
            if t and infos[agent]["shots"]:
                launched.append(agent)
        if t >= press_step:
            return {
                SELLER: (NOOP if SELLER in launched else FIRE, KEEP),
                BUYER: (NOOP if BUYER in launched else FIRE, REJECT),
            }
        buyer_ship = LEFT if t < 288 else NOOP  # the buyer moves from x 117 to the seller's 35
        seller_trade = OFFER_AT_ZERO if t == 1 else KEEP  # the buyer's one bullet
        return {SELLER: (NOOP, seller_trade), BUYER: (buyer_ship, ACCEPT)}

    trace = play(env, script, 700)
    ram = trace.rams[press_step]
    assert ram[RAM_SHIP_X[0]] == ram[RAM_SHIP_X[1]] == 35
    assert env.replayed_launches == 1 and env.unresolved_launches == 0
    kill_step = next(t for t, i in enumerate(trace.infos) if i[SELLER]["kills"] + i[BUYER]["kills"])
    killer = SELLER if trace.infos[kill_step][SELLER]["kills"] else BUYER
    before, after = trace.rams[kill_step], trace.rams[kill_step + 1]
    # The shot that hit an invader vanished below the top of the screen (y > 10).
    (slot,) = [
        s for s in (0, 1) if 10 < before[RAM_SHOT_Y[s]] <= 85 and after[RAM_SHOT_Y[s]] == NO_SHOT
    ]
    return launched, killer, slot


@pytest.mark.parametrize("press_step", [300, 301, 302, 303])
def test_same_x_launches_are_given_to_the_player_the_game_credits(press_step):
    launched, killer, slot = same_x_duel(press_step)
    assert sorted(launched) == [BUYER, SELLER]  # one shot each, one bullet each
    assert killer == launched[slot]


def test_same_x_priority_alternates_so_both_owners_come_first():
    firsts = {same_x_duel(step)[0][0] for step in (300, 302)}
    assert firsts == {SELLER, BUYER}


def test_random_play_every_ram_launch_is_one_bullet_of_its_owner():
    env = AtariTradeEnv(bullet_rate=0.3, max_bullets=3, frame_skip=1, max_cycles=3000)
    rng = np.random.default_rng(3)
    actions = {SELLER: (FIRE, KEEP), BUYER: (FIRE, REJECT)}

    def script(t, infos):  # sticky random actions, masked, changed every ~10 frames
        for agent in (SELLER, BUYER):
            if rng.random() < 0.1:
                actions[agent] = tuple(env.action_space(agent).sample(infos[agent]["action_mask"]))
        return actions

    trace = play(env, script, 3000, seed=3)
    total = 0
    for t, fresh in enumerate(ram_launches(trace)):
        ram = trace.rams[t + 1]
        shots = [trace.infos[t][a]["shots"] for a in (SELLER, BUYER)]
        assert sum(shots) == len(fresh), t
        total += len(fresh)
        if len(fresh) == 1 and ram[RAM_SHIP_X[0]] != ram[RAM_SHIP_X[1]]:
            (owner,) = owner_by_x(ram, fresh[0])
            assert shots[owner] == 1, t
    check_bullet_balance(trace)
    assert total >= 20 and env.unresolved_launches == 0


def test_frame_skip_keeps_the_balance():
    env = AtariTradeEnv(bullet_rate=0.5, max_bullets=2)  # frame_skip 4
    trace = play(
        env, lambda t, i: {SELLER: (FIRE, OFFER_AT_ZERO * (t % 3 == 0)), BUYER: (FIRE, ACCEPT)}, 600
    )
    check_bullet_balance(trace)
    shots = {a: sum(trace.shots(a)) for a in (SELLER, BUYER)}
    assert shots[SELLER] >= 5 and shots[BUYER] >= 5, shots
