"""How well can a ship shoot in ``atari_trade``? Scripted ships' kill reward per fired bullet.

Phase 0 of ``StackelbergAtariTrade`` trains the ships from RAM; after 60 iterations their hit
rate is about 35% (docs/results.md), so v_buyer < 0.5 and both equilibria are price 0.25. This
script plays scripted ships under phase 0's trade rule (the seller offers a free bullet at
price 0 with probability 0.5 per step, the buyer accepts; ``GameplayTrade``) and measures what
``measure_bullet_values`` measures: kills / shots per ship (v_seller = 0.1 x, v_buyer = 1.0 x
the hit rate). Policies, the same for both ships:

* ``random``: uniform over the valid ship actions (an untrained, masked policy);
* ``formation``: move under the nearest invader column (read from the screen) and press FIRE
  whenever a bullet is held;
* ``aimed``: as ``formation``, but press FIRE only when a look-ahead says the shot kills (the
  emulator state is cloned, the step played with FIRE, then ``LOOKAHEAD_FRAMES`` frames with
  both ships idle; restored after): a ship that waits for its shot, an upper bound for
  timing alone.

With ``--probe``: can a network tell from the observation when the buyer's shot would kill?
States in which the buyer could fire are labelled by the look-ahead and classifiers (phase 0's
MLP on RAM / 255 and on RAM bits, a small CNN on the screen) are trained on three quarters of
the episodes and tested on the rest (docs/results.md, "Stackelberg learning on the Atari
trade").

    python experiments/atari_trade_shooting.py --episodes 4 --seed 0
    python experiments/atari_trade_shooting.py --probe --episodes 80 --seed 0
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from envs.atari.observations import FrameStack
from envs.atari.space_invaders import (
    INVADER_POINTS_MODULUS,
    LAUNCH_Y,
    RAM_SHIP_X,
    RAM_SHOT_X,
    RAM_SHOT_Y,
    SHOT_X_OFFSET,
)
from envs.atari.trade import AGENTS, BUYER, SELLER, AtariTradeEnv

NOOP, FIRE, RIGHT, LEFT, RIGHTFIRE, LEFTFIRE = range(6)
FIRE_TWIN = {NOOP: FIRE, RIGHT: RIGHTFIRE, LEFT: LEFTFIRE}
OFFER_AT_ZERO, ACCEPT = 1, 1
INVADER_ROWS = slice(25, 150)  # screen rows of the formation (above the shields)
SCREEN_OFFSET = 1
LOOKAHEAD_FRAMES = 120  # a shot climbs 2 px every other frame: ~85 frames to the top
POLICIES = ("random", "formation", "aimed")

Policy = Callable[[AtariTradeEnv, int, dict, np.random.Generator], int]


def shot_column(env: AtariTradeEnv, player: int) -> int:
    """The screen column a shot of ``player`` would climb in (RAM x + 5, less the screen's
    offset of 1: player 1's sprite spans columns x - 1 to x + 6)."""
    return int(env.ale.getRAM()[RAM_SHIP_X[player]]) + SHOT_X_OFFSET - SCREEN_OFFSET


def nearest_invader_column(env: AtariTradeEnv, player: int) -> float | None:
    """The centre of the invader column (a run of screen columns with invader pixels) nearest
    to the player's shot column; None when no invader is on screen."""
    screen = env.ale.getScreenGrayscale()[INVADER_ROWS, :, 0]
    occupied = np.concatenate([[False], screen.any(axis=0), [False]])
    edges = np.nonzero(np.diff(occupied.astype(np.int8)))[0].reshape(-1, 2)  # [start, end)
    if not len(edges):
        return None
    centres = (edges[:, 0] + edges[:, 1] - 1) / 2
    return float(centres[np.abs(centres - shot_column(env, player)).argmin()])


def toward(env: AtariTradeEnv, player: int, target: float | None, fire: bool) -> int:
    """The move (with FIRE or without) that brings the player's shot column toward target."""
    shot_x = shot_column(env, player)
    if target is None or abs(shot_x - target) <= 2:
        return FIRE if fire else NOOP
    if shot_x < target:
        return RIGHTFIRE if fire else RIGHT
    return LEFTFIRE if fire else LEFT


def random_policy(env, player, info, rng) -> int:
    return int(rng.choice(np.nonzero(info["action_mask"][0])[0]))


def formation_policy(env, player, info, rng) -> int:
    return toward(
        env, player, nearest_invader_column(env, player), fire=info["action_mask"][0][FIRE] == 1
    )


def lookahead(env: AtariTradeEnv, player: int, move: int, fire: bool) -> tuple[bool, int]:
    """Play this step with ``move`` (and FIRE if ``fire``) for ``player``, the other ship idle,
    then ``LOOKAHEAD_FRAMES`` idle frames; restore the emulator. Returns whether the player
    launched a shot in the step (a slot at y 85 at its x + 5) and how many invaders it hit."""
    ale, table = env.ale, env._ale_actions
    pressed = [NOOP, NOOP]
    pressed[player] = FIRE_TWIN[move] if fire else move
    shot_x = int(ale.getRAM()[RAM_SHIP_X[player]]) + SHOT_X_OFFSET
    launched, kills = False, 0
    state = ale.cloneState()
    try:
        for frame in range(env.frame_skip + LOOKAHEAD_FRAMES):
            action = pressed if frame < env.frame_skip else [NOOP, NOOP]
            score = ale.act(table[action[0]][action[1]])
            if frame < env.frame_skip:
                ram = ale.getRAM()
                launched |= any(
                    ram[y] == LAUNCH_Y and ram[x] == shot_x
                    for y, x in zip(RAM_SHOT_Y, RAM_SHOT_X, strict=True)
                )
            kills += bool(score[player] % INVADER_POINTS_MODULUS)
            if ale.game_over():
                break
        return launched, kills
    finally:
        ale.restoreState(state)


def shot_kills(env: AtariTradeEnv, player: int, move: int) -> bool | None:
    """Does pressing FIRE with ``move`` now launch a shot that kills an invader (the other ship
    idle)? None when no shot would launch (the ship's last shot is still in the air)."""
    launched, kills_with = lookahead(env, player, move, fire=True)
    if not launched:
        return None
    return kills_with > lookahead(env, player, move, fire=False)[1]


def aimed_policy(env, player, info, rng) -> int:
    move = toward(env, player, nearest_invader_column(env, player), fire=False)
    if info["action_mask"][0][FIRE] and shot_kills(env, player, move):
        return FIRE_TWIN[move]
    return move


POLICY_FUNCTIONS: dict[str, Policy] = {
    "random": random_policy,
    "formation": formation_policy,
    "aimed": aimed_policy,
}


def play(policy: str, episodes: int, seed: int, max_cycles: int) -> dict[str, float]:
    """``episodes`` seeded episodes of ``policy`` for both ships under phase 0's trade rule."""
    choose = POLICY_FUNCTIONS[policy]
    env = AtariTradeEnv(max_cycles=max_cycles)
    rng = np.random.default_rng(seed)
    shots, kills, steps = np.zeros(2), np.zeros(2), 0
    for episode in range(episodes):
        _, infos = env.reset(seed=seed + 1_000_003 * episode)
        while env.agents:
            ships = [choose(env, p, infos[agent], rng) for p, agent in enumerate(AGENTS)]
            offer = infos[SELLER]["action_mask"][1][OFFER_AT_ZERO] and rng.random() < 0.5
            actions = {SELLER: (ships[0], OFFER_AT_ZERO if offer else 0), BUYER: (ships[1], ACCEPT)}
            _, _, _, _, infos = env.step(actions)
            for p, agent in enumerate(AGENTS):
                shots[p] += infos[agent]["shots"]
                kills[p] += infos[agent]["kills"]
            steps += 1
    env.close()
    hit = np.divide(kills, shots, out=np.zeros(2), where=shots > 0)
    return {
        "seller_hit_rate": hit[0],
        "buyer_hit_rate": hit[1],
        "v_seller": 0.1 * hit[0],
        "v_buyer": 1.0 * hit[1],
        "seller_shots_per_episode": shots[0] / episodes,
        "buyer_shots_per_episode": shots[1] / episodes,
        "steps_per_episode": steps / episodes,
    }


def collect_fire_states(episodes: int, seed: int, max_cycles: int) -> dict[str, np.ndarray]:
    """Play under phase 0's trade rule, the seller random, the buyer moving at random and never
    firing (so that it holds a bullet and may shoot at almost every step); at every other step
    in which it holds one, its observation, the screen (max-pooled to 84 x 84 like the frame
    observations) and whether firing now would kill (the look-ahead). Returns arrays
    ``observations (N, 136)``, ``screens (N, 84, 84)`` uint8, ``labels (N,)``, ``episodes (N,)``."""
    env = AtariTradeEnv(max_cycles=max_cycles)
    shrink = FrameStack(84, 1).shrink
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {"observations": [], "screens": [], "labels": [], "episodes": []}
    for episode in range(episodes):
        observation, infos = env.reset(seed=seed + 1_000_003 * episode)
        while env.agents:
            if infos[BUYER]["action_mask"][0][FIRE] and env._steps % 2 == 0:
                label = shot_kills(env, 1, NOOP)
                if label is not None:
                    rows["observations"].append(observation[BUYER])
                    rows["screens"].append(shrink(env.ale.getScreenGrayscale()[:, :, 0]))
                    rows["labels"].append(label)
                    rows["episodes"].append(episode)
            seller = random_policy(env, 0, infos[SELLER], rng)
            buyer = int(rng.choice([NOOP, RIGHT, LEFT]))
            offer = infos[SELLER]["action_mask"][1][OFFER_AT_ZERO] and rng.random() < 0.5
            actions = {SELLER: (seller, OFFER_AT_ZERO if offer else 0), BUYER: (buyer, ACCEPT)}
            observation, _, _, _, infos = env.step(actions)
    env.close()
    data = {key: np.asarray(values) for key, values in rows.items()}
    data["labels"] = data["labels"].astype(np.float32)
    return data


def mlp(width: int):
    """Phase 0's ship torso ([64, 64] tanh) with one logit."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(width, 64),
        torch.nn.Tanh(),
        torch.nn.Linear(64, 64),
        torch.nn.Tanh(),
        torch.nn.Linear(64, 1),
    )


def cnn():
    """A small convolutional net on one 84 x 84 screen (Mnih et al. 2013's two layers)."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 8, stride=4),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 4, stride=2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 9 * 9, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 1),
    )


def fit_classifier(
    network, features: np.ndarray, labels: np.ndarray, test: np.ndarray, epochs: int = 40
) -> dict[str, float]:
    """Train ``network`` (Adam, lr 1e-3, minibatches of 64) to tell kill states from miss
    states; on the held-out rows: accuracy, the base rate and the hit rate of firing only
    where it predicts a kill (its precision)."""
    import torch

    x, y = torch.from_numpy(features), torch.from_numpy(labels)
    train = torch.nonzero(~torch.from_numpy(test))[:, 0]
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    for _ in range(epochs):
        for rows in train[torch.randperm(len(train))].split(64):
            logits = network(x[rows])[:, 0]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        held = torch.from_numpy(test)
        predicted = network(x[held])[:, 0] > 0
        fitted = network(x[train])[:, 0] > 0
    truth = y[held].bool()
    return {
        "train_accuracy": float((fitted == y[train].bool()).float().mean()),
        "test_accuracy": float((predicted == truth).float().mean()),
        "test_base_rate": float(truth.float().mean()),
        "fires_where_predicted": float(predicted.float().mean()),
        "hit_rate_when_predicted": float(truth[predicted].float().mean())
        if predicted.any()
        else 0.0,
    }


def probe(episodes: int, seed: int, max_cycles: int, cache: str | None) -> None:
    """Can a network read from the observation when the buyer's shot would kill?"""
    import os

    import torch

    from rllib_meta.algorithms.stackelberg.atari_trade.rl_module import ram_bits

    start = time.process_time()
    if cache and os.path.exists(cache):
        data = dict(np.load(cache))
    else:
        data = collect_fire_states(episodes, seed, max_cycles)
        if cache:
            np.savez_compressed(cache, **data)
    labels, episode_ids = data["labels"], data["episodes"]
    test = episode_ids >= int((episode_ids.max() + 1) * 0.75)  # the last quarter of episodes
    print(
        f"{len(labels)} buyer fire states from {episode_ids.max() + 1} episodes "
        f"({test.sum()} held out), {time.process_time() - start:.0f} s CPU; "
        f"firing kills in {labels.mean():.3f} of them"
    )
    torch.manual_seed(seed)
    observations = data["observations"].astype(np.float32)
    screens = (data["screens"][:, None].astype(np.float32) / 255).copy()
    candidates = (
        ("RAM / 255", mlp(observations.shape[1]), observations),
        ("RAM bits", mlp(1024 + 8), ram_bits(torch.from_numpy(observations)).numpy()),
        ("screen CNN", cnn(), screens),
    )
    for name, network, features in candidates:
        start = time.process_time()
        r = fit_classifier(network, features, labels, test)
        print(
            f"{name:10} train acc {r['train_accuracy']:.3f}  test acc {r['test_accuracy']:.3f} "
            f"(base rate {r['test_base_rate']:.3f})  fires in {r['fires_where_predicted']:.3f} "
            f"of the held-out states, hit rate there {r['hit_rate_when_predicted']:.3f} "
            f"({time.process_time() - start:.0f} s CPU)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-cycles", type=int, default=1000)
    parser.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES))
    parser.add_argument(
        "--probe", action="store_true", help="the fire-state classifiers instead of the policies"
    )
    parser.add_argument("--cache", help="an .npz file keeping the probe's states")
    args = parser.parse_args(argv)
    if args.probe:
        probe(args.episodes, args.seed, args.max_cycles, args.cache)
        return
    print(f"{args.episodes} episodes per policy, seed {args.seed}, max {args.max_cycles} steps")
    print(
        f"{'policy':10} {'hit seller':>10} {'hit buyer':>10} {'v_seller':>9} {'v_buyer':>8} "
        f"{'shots s/b per ep':>17} {'steps/ep':>9} {'s':>6}"
    )
    for policy in args.policies:
        start = time.process_time()
        r = play(policy, args.episodes, args.seed, args.max_cycles)
        seconds = time.process_time() - start
        print(
            f"{policy:10} {r['seller_hit_rate']:10.3f} {r['buyer_hit_rate']:10.3f} "
            f"{r['v_seller']:9.4f} {r['v_buyer']:8.3f} "
            f"{r['seller_shots_per_episode']:8.1f} / {r['buyer_shots_per_episode']:5.1f} "
            f"{r['steps_per_episode']:9.0f} {seconds:6.1f}"
        )


if __name__ == "__main__":
    main()
