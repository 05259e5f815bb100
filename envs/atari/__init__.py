"""Bilateral trade on 2-player Space Invaders (paper 003, section 4).

:mod:`envs.atari.space_invaders` loads PettingZoo's game with ale-py's ROM and holds what was
measured about it (action set, RAM layout, shot launches and their owners);
:mod:`envs.atari.trade` is the PettingZoo env (bullets, offers, prices, rewards);
:mod:`envs.atari.observations` its trade features and frame stacks;
:mod:`envs.atari.stackelberg` the exact optimum of the trade from per-bullet values.
Importing this package does not import the atari extra (ale-py, multi-agent-ale-py, pygame-ce):
building the env does, and names ``pip install "rllib-meta[atari]"`` when it is missing.
"""

from envs.atari.space_invaders import ATARI_EXTRA_HINT, AtariUnavailableError
from envs.atari.stackelberg import PRICES, TradeOutcome, optimal_trade, trade_outcome
from envs.atari.trade import AGENTS, BUYER, SELLER, AtariTradeEnv

__all__ = [
    "AGENTS",
    "ATARI_EXTRA_HINT",
    "BUYER",
    "PRICES",
    "SELLER",
    "AtariTradeEnv",
    "AtariUnavailableError",
    "TradeOutcome",
    "optimal_trade",
    "trade_outcome",
]
