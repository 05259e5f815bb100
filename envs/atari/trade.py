"""Bilateral trade on 2-player Space Invaders (paper 003, section 4), a PettingZoo ParallelEnv.

Agents: ``seller_0`` (PettingZoo's ``first_0``, the game's player 1, the paper's player 1 /
"agent 1") and ``buyer_0`` (``second_0``, player 2), in that order (``<role>_<k>`` as the
particle worlds; ``rllib_meta.multi_agent:module_per_role`` maps them to ``seller`` / ``buyer``).

Actions: ``MultiDiscrete([6, 6])`` for the seller, ``MultiDiscrete([6, 2])`` for the buyer:
``(ship, trade)``. ``ship`` is the minimal action set (0 NOOP, 1 FIRE, 2 RIGHT, 3 LEFT,
4 RIGHTFIRE, 5 LEFTFIRE). The seller's ``trade``: 0 keeps its bullets, ``k`` = 1-5 offers one
bullet at ``PRICES[k - 1]`` (0, 0.25, 0.5, 0.75, 1.0); the buyer's: 0 rejects, 1 accepts the
pending offer. RLlib's default models sample ``MultiDiscrete`` (one categorical per component).

Bullets. Both ships start with none (paper). At the end of every step the seller receives one
bullet with probability ``bullet_rate`` (so the intervals between bullets are geometric with
mean ``1 / bullet_rate`` steps), drawn from the env's generator (seeded by ``reset(seed=...)``);
a ship holds at most ``max_bullets`` (a bullet arriving at a full seller is lost). A ship may
fire only while it holds a free bullet: on every emulator frame a FIRE action of a ship without
one is replaced by its twin without FIRE (FIRE -> NOOP, RIGHTFIRE -> RIGHT, LEFTFIRE -> LEFT),
and a bullet is consumed exactly when the game launches one of its shots (seen in RAM, see
:mod:`envs.atari.space_invaders`), so holding FIRE spends one bullet per shot launched and
nothing while the ship's previous shot is still flying or exploding.

Trade, in the order it happens within a step:

1. The pending offer (made in the previous step, shown in both observations) is resolved by
   the buyer's trade action: on accept the bullet moves to the buyer and the price moves from
   the buyer's reward to the seller's in this step; on reject (or a full buyer) it stays with
   the seller. An offer is pending for exactly one step.
2. The seller's trade action: an offer holds one free bullet back (it cannot be fired during
   this step's frames) and becomes the pending offer; with no free bullet it keeps.
3. The ``frame_skip`` emulator frames (fewer if the game ends), with the FIRE rule above; a
   bullet bought in step 1 can be fired in these frames.
4. Rewards: 0.1 (``seller_kill_reward``) to the seller and 1.0 (``buyer_kill_reward``) to the
   buyer per invader their shots kill, plus the trade's price; the game's own score, including
   its command ship and its +200 for the other ship being hit, is not a reward.
5. The seller's bullet arrival.

Action masks, in ``infos[agent]["action_mask"]`` as ``(ship_mask, trade_mask)`` int8 arrays
(what ``MultiDiscrete.sample(mask=...)`` takes), give what is certainly valid at the start of
the next step: FIRE actions need a free bullet (the seller's offered bullet is not free: if
the buyer rejects, it is free again in the next step's frames), an offer needs a free bullet,
accept needs a pending offer and a buyer below ``max_bullets``. Masked actions are not errors:
they are executed as their valid twins (FIRE without FIRE, an offer as keep, accept as reject).

Observations, the same for both agents: with ``obs_type="ram"`` (default) the 128 RAM bytes
divided by 255 followed by the 8 trade features of :mod:`envs.atari.observations` (both
inventories and the pending offer), ``float32`` in [0, 1]; with ``obs_type="frames"`` a
``float32`` image in [0, 1] of ``frame_stack`` max-pooled grayscale screens plus the trade
features as constant channels (RLlib's default CNN reads it). Episodes end by termination when
the game is over (the ships share 3 lives) and by truncation after ``max_cycles`` steps.

Infos per agent, besides the mask: ``bullets`` (held at the end of the step), ``shots`` and
``kills`` (launched / invaders hit this step), ``traded`` and ``price`` (the price of this
step's trade, 0 if none), ``offer`` (the pending offer's index into ``PRICES``, -1 if none).

Where the paper is silent, the rules above are this env's choices: the geometric arrivals,
``max_bullets``, an offer lasting one step and holding its bullet back, the resolution order,
masks executed as valid twins, and the kill credit (an invader kill is a frame in which RAM 17
drops; it goes to the ship whose score rose by an invader's points; the command ship is not an
invader).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.atari.observations import NUM_TRADE_FEATURES, SCREEN_SHAPE, FrameStack, trade_vector
from envs.atari.space_invaders import (
    FIRE_ACTIONS,
    NO_FIRE_TWIN,
    NUM_SHIP_ACTIONS,
    RAM_INVADERS_LEFT,
    LaunchDetector,
    invader_kills,
    make_space_invaders,
)
from envs.atari.stackelberg import PRICES

SELLER, BUYER = "seller_0", "buyer_0"
AGENTS = (SELLER, BUYER)
KEEP, REJECT, ACCEPT = 0, 0, 1
NUM_SELLER_TRADE_ACTIONS = 1 + len(PRICES)
NUM_BUYER_TRADE_ACTIONS = 2
OBS_TYPES = ("ram", "frames")
RENDER_MODES = ("rgb_array",)
RAM_SIZE = 128

AgentID = str


def _check_integer(key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{key} must be an integer >= {low}; got {value!r}")
    return int(value)


def _check_number(key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{key} must be a number in [{low}, {high}]; got {value!r}")
    return float(value)


def _mask(length: int, allowed: Any) -> np.ndarray:
    mask = np.zeros(length, np.int8)
    mask[list(allowed)] = 1
    mask.setflags(write=False)
    return mask


# The few masks there are, built once (read-only: every step hands out the same arrays).
_SHIP_MASKS = (
    _mask(NUM_SHIP_ACTIONS, set(range(NUM_SHIP_ACTIONS)) - set(FIRE_ACTIONS)),
    _mask(NUM_SHIP_ACTIONS, range(NUM_SHIP_ACTIONS)),
)
_SELLER_TRADE_MASKS = (
    _mask(NUM_SELLER_TRADE_ACTIONS, [KEEP]),
    _mask(NUM_SELLER_TRADE_ACTIONS, range(NUM_SELLER_TRADE_ACTIONS)),
)
_BUYER_TRADE_MASKS = (
    _mask(NUM_BUYER_TRADE_ACTIONS, [REJECT]),
    _mask(NUM_BUYER_TRADE_ACTIONS, [REJECT, ACCEPT]),
)


class AtariTradeEnv(ParallelEnv[AgentID, np.ndarray, np.ndarray]):
    """Bilateral trade on 2-player Space Invaders (see the module docstring)."""

    metadata = {"name": "atari_trade_v0", "render_modes": list(RENDER_MODES)}

    def __init__(
        self,
        bullet_rate: float = 0.05,
        max_bullets: int = 5,
        frame_skip: int = 4,
        max_cycles: int = 1000,
        obs_type: str = "ram",
        frame_stack: int = 4,
        frame_size: int = 84,
        seller_kill_reward: float = 0.1,
        buyer_kill_reward: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        self.bullet_rate = _check_number("bullet_rate", bullet_rate, 0.0, 1.0)
        self.max_bullets = _check_integer("max_bullets", max_bullets, 1)
        self.frame_skip = _check_integer("frame_skip", frame_skip, 1)
        self.max_cycles = _check_integer("max_cycles", max_cycles, 1)
        if obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type must be one of {list(OBS_TYPES)}; got {obs_type!r}")
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(
                f"render_mode must be None or one of {list(RENDER_MODES)}; got {render_mode!r}"
            )
        self.obs_type = obs_type
        self.render_mode = render_mode
        self.kill_rewards = (
            _check_number("seller_kill_reward", seller_kill_reward, -1e6, 1e6),
            _check_number("buyer_kill_reward", buyer_kill_reward, -1e6, 1e6),
        )
        self._frames = None
        if obs_type == "frames":
            stack = _check_integer("frame_stack", frame_stack, 1)
            self._frames = FrameStack(_check_integer("frame_size", frame_size, 1), stack)
            self._screens = (np.empty(SCREEN_SHAPE, np.uint8), np.empty(SCREEN_SHAPE, np.uint8))

        self.game = make_space_invaders()
        self.ale = self.game.ale
        codes = np.asarray(self.game.action_mapping, np.intc)
        # ALE action arrays for every pair of ship actions, built once (act() takes them as is).
        self._ale_actions = [
            [np.array([codes[a], codes[b]], np.intc) for b in range(NUM_SHIP_ACTIONS)]
            for a in range(NUM_SHIP_ACTIONS)
        ]
        self._detector = LaunchDetector(self.ale, self._ale_actions)
        self._ram = np.zeros(RAM_SIZE, np.uint8)
        self._previous_ram = np.zeros(RAM_SIZE, np.uint8)
        self.metadata = {**self.metadata, "render_fps": 60 / self.frame_skip}

        self.possible_agents = list(AGENTS)
        self.agents: list[AgentID] = []
        if obs_type == "ram":
            observation_space = spaces.Box(0.0, 1.0, (RAM_SIZE + NUM_TRADE_FEATURES,), np.float32)
        else:
            observation_space = spaces.Box(0.0, 1.0, self._frames.shape, np.float32)
        # Spaces are created once so that seeding them persists (PettingZoo requires identity).
        self.observation_spaces = dict.fromkeys(AGENTS, observation_space)
        self.action_spaces = {
            SELLER: spaces.MultiDiscrete([NUM_SHIP_ACTIONS, NUM_SELLER_TRADE_ACTIONS]),
            BUYER: spaces.MultiDiscrete([NUM_SHIP_ACTIONS, NUM_BUYER_TRADE_ACTIONS]),
        }
        self._rng = np.random.default_rng()
        self._bullets = [0, 0]
        self._offer = 0  # 0: none, k: one bullet offered at PRICES[k - 1]
        self._steps = 0

    # -- PettingZoo API ---------------------------------------------------------------------

    def observation_space(self, agent: AgentID) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: AgentID) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[AgentID, np.ndarray], dict[AgentID, dict[str, Any]]]:
        """New game; ``seed`` seeds the bullet arrivals, the emulator and the action spaces."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self.game.reset(seed=seed)  # ALE's random_seed (reloads the ROM)
            for i, agent in enumerate(AGENTS):
                self.action_spaces[agent].seed(seed + i)
        else:
            self.ale.reset_game()
        self.ale.getRAM(self._ram)
        self._previous_ram[:] = self._ram
        self.agents = list(AGENTS)
        self._bullets = [0, 0]
        self._offer = 0
        self._steps = 0
        self._detector.replayed = self._detector.unresolved = 0
        if self._frames is not None:
            self._frames.reset(self.ale.getScreenGrayscale(self._screens[0]))
        observation = self._observation()
        no_event = {"shots": 0, "kills": 0, "traded": False, "price": 0.0}
        return dict.fromkeys(AGENTS, observation), self._infos((no_event, no_event))

    def step(self, actions: dict[AgentID, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """One step of ``frame_skip`` frames; both agents act with ``(ship, trade)``."""
        if not self.agents:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        seller_ship, offer = _action(actions, SELLER, NUM_SELLER_TRADE_ACTIONS)
        buyer_ship, response = _action(actions, BUYER, NUM_BUYER_TRADE_ACTIONS)
        bullets = self._bullets
        rewards = [0.0, 0.0]

        # 1. The pending offer meets the buyer's response.
        price = 0.0
        traded = False
        if self._offer and response == ACCEPT and bullets[1] < self.max_bullets:
            price = PRICES[self._offer - 1]
            bullets[0] -= 1
            bullets[1] += 1
            rewards[0] += price
            rewards[1] -= price
            traded = True
        # 2. The seller's new offer holds one bullet back.
        self._offer = offer if offer != KEEP and bullets[0] > 0 else 0
        free = [bullets[0] - (self._offer > 0), bullets[1]]

        # 3. The frames, with the FIRE rule and launch detection.
        shots, kills, game_over = self._play(seller_ship, buyer_ship, free)
        for player in (0, 1):
            bullets[player] -= shots[player]
            rewards[player] += self.kill_rewards[player] * kills[player]

        # 5. The seller's bullet arrival.
        if self._rng.random() < self.bullet_rate and bullets[0] < self.max_bullets:
            bullets[0] += 1

        self._steps += 1
        truncated = self._steps >= self.max_cycles
        observation = self._observation()
        events = [
            {"shots": shots[p], "kills": kills[p], "traded": traded, "price": price} for p in (0, 1)
        ]
        infos = self._infos(events)
        self.agents = [] if game_over or truncated else self.agents
        return (
            dict.fromkeys(AGENTS, observation),
            {SELLER: rewards[0], BUYER: rewards[1]},
            dict.fromkeys(AGENTS, game_over),
            dict.fromkeys(AGENTS, truncated and not game_over),
            infos,
        )

    def _play(self, seller_ship: int, buyer_ship: int, free: list[int]):
        """Run the frames of one step; returns shots launched, invaders killed, game over."""
        ale, detector, table = self.ale, self._detector, self._ale_actions
        wants_fire = (seller_ship in FIRE_ACTIONS, buyer_ship in FIRE_ACTIONS)
        twins = (NO_FIRE_TWIN[seller_ship], NO_FIRE_TWIN[buyer_ship])
        ships = (seller_ship, buyer_ship)
        shots, kills = [0, 0], [0, 0]
        game_over = False
        for frame in range(self.frame_skip):
            pressing = (wants_fire[0] and free[0] > 0, wants_fire[1] and free[1] > 0)
            played = (
                ships[0] if pressing[0] else twins[0],
                ships[1] if pressing[1] else twins[1],
            )
            snapshot = ale.cloneState() if detector.needs_snapshot(pressing) else None
            frame_rewards = ale.act(table[played[0]][played[1]])
            self._previous_ram, self._ram = self._ram, self._previous_ram
            ale.getRAM(self._ram)
            if pressing[0] or pressing[1]:
                owners = detector.launches(
                    self._previous_ram, self._ram, pressing, played, snapshot
                )
                for owner in owners:
                    shots[owner] += 1
                    free[owner] -= 1
            if snapshot is not None:
                ale.deleteState(snapshot)
            if frame_rewards[0] or frame_rewards[1]:
                dropped = self._ram[RAM_INVADERS_LEFT] < self._previous_ram[RAM_INVADERS_LEFT]
                killed = invader_kills(frame_rewards, dropped)
                kills[0] += killed[0]
                kills[1] += killed[1]
            if ale.game_over():
                game_over = True
                break
            if self._frames is not None and frame == self.frame_skip - 2:
                ale.getScreenGrayscale(self._screens[1])
        if self._frames is not None:
            # The step's screen: the maximum of its last two frames (its last, if it ended
            # early or has one frame).
            screen = ale.getScreenGrayscale(self._screens[0])
            if frame == self.frame_skip - 1 and frame >= 1:
                np.maximum(screen, self._screens[1], out=screen)
            self._frames.push(screen)
        return shots, kills, game_over

    def _observation(self) -> np.ndarray:
        trade = trade_vector(self._bullets[0], self._bullets[1], self._offer, self.max_bullets)
        if self._frames is not None:
            return self._frames.observation(trade)
        observation = np.empty(RAM_SIZE + NUM_TRADE_FEATURES, np.float32)
        np.multiply(self._ram, np.float32(1 / 255), out=observation[:RAM_SIZE])
        observation[RAM_SIZE:] = trade
        return observation

    def _infos(self, events) -> dict[AgentID, dict[str, Any]]:
        seller_free = self._bullets[0] - (self._offer > 0)
        masks = (
            (_SHIP_MASKS[seller_free > 0], _SELLER_TRADE_MASKS[seller_free > 0]),
            (
                _SHIP_MASKS[self._bullets[1] > 0],
                _BUYER_TRADE_MASKS[self._offer > 0 and self._bullets[1] < self.max_bullets],
            ),
        )
        return {
            agent: {
                "action_mask": masks[p],
                "bullets": self._bullets[p],
                "offer": self._offer - 1,
                **events[p],
            }
            for p, agent in enumerate(AGENTS)
        }

    @property
    def bullets(self) -> dict[AgentID, int]:
        """Bullets each ship holds (the seller's include one held back by a pending offer)."""
        return {SELLER: self._bullets[0], BUYER: self._bullets[1]}

    @property
    def pending_offer(self) -> float | None:
        """The price of the pending offer, ``None`` if there is none."""
        return PRICES[self._offer - 1] if self._offer else None

    @property
    def replayed_launches(self) -> int:
        """Launches this episode decided by replaying their frame (both ships at one x)."""
        return self._detector.replayed

    @property
    def unresolved_launches(self) -> int:
        """Launches this episode whose owner the replays could not tell (never seen so far)."""
        return self._detector.unresolved

    def render(self) -> np.ndarray | None:
        """The ``(210, 160, 3)`` uint8 screen when ``render_mode == "rgb_array"``, else ``None``."""
        if self.render_mode != "rgb_array":
            return None
        return self.ale.getScreenRGB()

    def close(self) -> None:
        self.game.close()


def _action(actions: dict[AgentID, Any], agent: AgentID, num_trade: int) -> tuple[int, int]:
    if agent not in actions:
        raise ValueError(f"missing action for {agent!r}")
    action = actions[agent]
    try:
        ship, trade = (int(a) for a in action)
    except (TypeError, ValueError):
        ship = trade = -1
    if not (0 <= ship < NUM_SHIP_ACTIONS and 0 <= trade < num_trade):
        raise ValueError(
            f"action of {agent!r} must be (ship in [0, {NUM_SHIP_ACTIONS}), trade in "
            f"[0, {num_trade})); got {action!r}"
        )
    return ship, trade
