"""Scripted play of the trade env and what its RAM observations show, frame by frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from envs.atari.space_invaders import (
    LAUNCH_Y,
    RAM_SHIP_X,
    RAM_SHOT_X,
    RAM_SHOT_Y,
    SHOT_X_OFFSET,
)
from envs.atari.trade import SELLER, AtariTradeEnv

Script = Callable[[int, dict], dict]  # (step, infos) -> {agent: (ship, trade)}


def ram_of(observation: np.ndarray) -> np.ndarray:
    """The RAM bytes inside a RAM observation (bytes / 255, rounded back)."""
    return np.rint(observation[:128] * 255).astype(np.uint8)


@dataclass
class Trace:
    """One scripted episode: per step the RAM after it, rewards, infos and the bullets before."""

    rams: list[np.ndarray] = field(default_factory=list)
    rewards: list[dict] = field(default_factory=list)
    infos: list[dict] = field(default_factory=list)
    bullets_before: list[dict] = field(default_factory=list)

    def shots(self, agent: str) -> list[int]:
        return [info[agent]["shots"] for info in self.infos]


def play(env: AtariTradeEnv, script: Script, steps: int, seed: int = 0) -> Trace:
    observations, infos = env.reset(seed=seed)
    trace = Trace(rams=[ram_of(observations[SELLER])])
    for step in range(steps):
        if not env.agents:
            break
        trace.bullets_before.append(env.bullets)
        observations, rewards, _, _, infos = env.step(script(step, infos))
        trace.rams.append(ram_of(observations[SELLER]))
        trace.rewards.append(rewards)
        trace.infos.append(infos)
    return trace


def launches_in_ram(previous: np.ndarray, ram: np.ndarray) -> list[int]:
    """The x of each shot launched between two consecutive frames' RAM (a slot at the launch
    height that the previous frame did not show there), read independently of the env."""
    fresh = []
    for slot in (0, 1):
        x = int(ram[RAM_SHOT_X[slot]])
        if ram[RAM_SHOT_Y[slot]] == LAUNCH_Y:
            before = {
                int(previous[RAM_SHOT_X[s]]) for s in (0, 1) if previous[RAM_SHOT_Y[s]] == LAUNCH_Y
            }
            if x not in before:
                fresh.append(x)
    return fresh


def owner_by_x(ram: np.ndarray, shot_x: int) -> list[int]:
    """Players (0 seller, 1 buyer) whose ship sits where a shot at ``shot_x`` is launched."""
    return [p for p in (0, 1) if int(ram[RAM_SHIP_X[p]]) + SHOT_X_OFFSET == shot_x]
