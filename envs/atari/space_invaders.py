"""PettingZoo's 2-player Space Invaders: loading it, its action set, RAM layout and shot launches.

Everything here was measured on the ROM that ale-py ships (``ale_py/roms/space_invaders.bin``)
in PettingZoo's default mode (34: moving shields), and is checked by
``tests/envs/atari/test_space_invaders.py``:

* Minimal action set, per player: 0 NOOP, 1 FIRE, 2 RIGHT, 3 LEFT, 4 RIGHTFIRE, 5 LEFTFIRE
  (ALE codes 0, 1, 3, 4, 11, 12). The game reads FIRE on even frames only, in the frame it is
  pressed (nothing is latched: a press on an odd frame is lost), and launches while FIRE is
  held whenever the player may shoot.
* RAM 28 / 29: x of player 1 / player 2 (PettingZoo's ``first_0`` / ``second_0``); RAM 17:
  invaders left (36 per wave); RAM 85 / 86: y of shot slots 0 / 1, RAM 87 / 88: their x,
  y = 246 when a slot is empty.
* A launched shot appears at y = 85 (:data:`LAUNCH_Y`) and x = its ship's x + 5
  (:data:`SHOT_X_OFFSET`) in the frame of the press, then climbs 2 px every other (odd) frame,
  so it shows y = 85 for exactly one frame. A shot that hits a shield or the top turns into a
  short explosion (y 127 down to 121) in its slot, which keeps its owner from shooting. Each
  player has at most one shot; the slots are not the players': slot 0 holds the older object
  and when it empties the object in slot 1 moves into slot 0, (y, x) together.
* When both players press FIRE and both may shoot, only one launches in that frame (the game
  alternates the priority every 2 frames) and the other launches later.
* Game score per frame (ALE's per-player reward): 5-30 per invader by row, 100 for the command
  ship, and 200 to a player when the other ship is hit. An invader kill is the frame in which
  RAM 17 drops, credited to the player(s) whose score rose by an invader's points (the score
  change modulo 100: the command ship's 100 and the 200 bonus are multiples of 100).

Launch attribution (:class:`LaunchDetector`): a launch is a slot showing y = 85 that the
previous frame did not show at (85, same x); its owner pressed FIRE in that frame. With one
player pressing, it is theirs; with both pressing, the shot's x names the ship; with both ships
at the same x, the frame is replayed from an emulator snapshot taken before it, once with only
player 1 pressing and once with only player 2: the owner is the one whose replay reproduces the
frame's RAM byte for byte (the two replays differ: the game records which player fired).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from envs.errors import MissingExtraError

ATARI_EXTRA_HINT = 'pip install "rllib-meta[atari]"'
GAME = "space_invaders"

# Minimal action set (index -> meaning) and each action's twin without FIRE.
ACTION_MEANINGS = ("NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE")
NUM_SHIP_ACTIONS = len(ACTION_MEANINGS)
FIRE_ACTIONS = (1, 4, 5)
NO_FIRE_TWIN = (0, 0, 2, 3, 2, 3)

# RAM addresses and values.
RAM_INVADERS_LEFT = 17
RAM_SHIP_X = (28, 29)
RAM_LIVES = 73
RAM_SHOT_Y = (85, 86)
RAM_SHOT_X = (87, 88)
NO_SHOT = 246
LAUNCH_Y = 85
SHOT_X_OFFSET = 5
INVADER_POINTS_MODULUS = 100  # invaders score 5-30; the command ship 100, the bonus 200


class AtariUnavailableError(MissingExtraError):
    """The atari extra (ale-py, multi-agent-ale-py, pygame-ce) or the Space Invaders ROM is
    missing; the message names the ``pip install`` command."""


def rom_directory() -> Path:
    """The folder of ROMs inside the installed ale-py (found without importing ale-py)."""
    spec = importlib.util.find_spec("ale_py")
    if spec is None or not spec.submodule_search_locations:
        raise AtariUnavailableError(
            f"The Atari envs need the atari extra (ale-py is not installed): {ATARI_EXTRA_HINT}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "roms"


def make_space_invaders(**options: Any) -> Any:
    """PettingZoo's ``space_invaders_v2`` as its ``ParallelAtariEnv`` (RAM observations), with the
    ROM of the installed ale-py (no AutoROM, no download).

    ``space_invaders_v2.parallel_env`` wraps that env in an AEC env and converts it back; the
    trade env steps the emulator frame by frame and takes the parallel env inside instead.
    ``options`` are ``space_invaders_v2.raw_env``'s (game variations, ``render_mode``).

    Raises:
        AtariUnavailableError: the atari extra or the ROM is missing.
    """
    rom = rom_directory() / f"{GAME}.bin"
    try:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        from pettingzoo.atari import space_invaders_v2
        from pettingzoo.atari.base_atari_env import ParallelAtariEnv
    except ImportError as error:
        missing = error.name or str(error)
        raise AtariUnavailableError(
            f"The Atari envs need the atari extra ({missing} is missing): {ATARI_EXTRA_HINT}"
        ) from None
    if not rom.is_file():
        raise AtariUnavailableError(
            f"The Space Invaders ROM is not at {rom} (ale-py >= 0.9 ships it; the installed "
            f"ale-py does not): {ATARI_EXTRA_HINT}"
        )
    wrapped = space_invaders_v2.raw_env(
        obs_type="ram", auto_rom_install_path=str(rom.parent), **options
    )
    game = wrapped.env  # raw_env = parallel_to_aec_wrapper(ParallelAtariEnv(...))
    if not isinstance(game, ParallelAtariEnv):
        raise TypeError(
            f"space_invaders_v2.raw_env wraps a {type(game).__name__}, not a ParallelAtariEnv"
        )
    return game


def invader_kills(rewards: Any, invaders_dropped: bool) -> tuple[int, int]:
    """Invaders killed by player 1 and player 2 in one frame, from ALE's per-player score
    change of the frame and whether RAM 17 (invaders left) dropped in it."""
    if not invaders_dropped:
        return 0, 0
    return tuple(int(int(r) > 0 and int(r) % INVADER_POINTS_MODULUS != 0) for r in rewards)


class LaunchDetector:
    """Finds the shots launched in one emulator frame and their owners (module docstring).

    Use: :meth:`needs_snapshot` before the frame (``pressing``: which players press FIRE in
    it); if true, take ``ale.cloneState()`` and pass it to :meth:`launches` after the frame.
    ``replayed`` counts the launches decided by replaying their frame, ``unresolved`` those
    whose replays were inconclusive (never seen; they go to the ship nearest the shot, player
    1 on a tie).
    """

    def __init__(self, ale: Any, ale_actions: np.ndarray) -> None:
        self.ale = ale
        self.ale_actions = ale_actions  # [action of player 1][action of player 2] -> ALE array
        self.replayed = 0
        self.unresolved = 0

    @staticmethod
    def needs_snapshot(pressing: tuple[bool, bool]) -> bool:
        return pressing[0] and pressing[1]

    def launches(
        self,
        previous_ram: np.ndarray,
        ram: np.ndarray,
        pressing: tuple[bool, bool],
        actions: tuple[int, int],
        snapshot: Any = None,
    ) -> list[int]:
        """The owners (0: player 1, 1: player 2) of the shots launched in the frame that took
        the RAM from ``previous_ram`` to ``ram`` with ship ``actions`` (FIRE already removed
        for a player without a bullet); ``snapshot``: the state before the frame."""
        new_x = [
            int(ram[RAM_SHOT_X[s]])
            for s in (0, 1)
            if ram[RAM_SHOT_Y[s]] == LAUNCH_Y
            and not _showed_launch(previous_ram, ram[RAM_SHOT_X[s]])
        ]
        if not new_x:
            return []
        pressers = [p for p in (0, 1) if pressing[p]]
        if len(pressers) == 1 or len(new_x) == 2:
            return pressers[: len(new_x)]
        shot_x = new_x[0]
        by_x = [p for p in pressers if int(ram[RAM_SHIP_X[p]]) + SHOT_X_OFFSET == shot_x]
        if len(by_x) == 1:
            return by_x
        return [self._replay_owner(ram, actions, snapshot, shot_x)]

    def _replay_owner(self, ram: np.ndarray, actions: tuple[int, int], snapshot: Any, x: int):
        self.replayed += 1
        matches = []
        if snapshot is not None:
            after = self.ale.cloneState()
            for player in (0, 1):
                alone = list(actions)
                alone[1 - player] = NO_FIRE_TWIN[alone[1 - player]]
                self.ale.restoreState(snapshot)
                self.ale.act(self.ale_actions[alone[0]][alone[1]])
                if np.array_equal(self.ale.getRAM(), ram):
                    matches.append(player)
            self.ale.restoreState(after)  # getRAM() is stale until the next act(); ram is not
            self.ale.deleteState(after)
        if len(matches) == 1:
            return matches[0]
        self.unresolved += 1
        distance = [abs(int(ram[RAM_SHIP_X[p]]) + SHOT_X_OFFSET - x) for p in (0, 1)]
        return int(distance[1] < distance[0])


def _showed_launch(previous_ram: np.ndarray, x: int) -> bool:
    """Whether the previous frame showed a just-launched shot at ``x`` (a frozen or moved one)."""
    return any(
        previous_ram[RAM_SHOT_Y[s]] == LAUNCH_Y and previous_ram[RAM_SHOT_X[s]] == x for s in (0, 1)
    )
