"""Observations of the trade env: the trade vector, and grayscale frame stacks.

The trade vector (:data:`TRADE_FEATURES`, 8 floats in [0, 1]): the seller's and the buyer's
bullets divided by ``max_bullets`` (the seller's count includes a bullet held back by its
pending offer), then a one-hot of the pending offer (none, or one of the 5 prices).

Frames (``obs_type="frames"``): each step's screen is the pixel-wise maximum of the grayscale
screens of its last two emulator frames (Space Invaders draws its sprites on alternate frames),
max-pooled from 210 x 160 to ``size`` x ``size`` (every output pixel is the maximum of its
block, so 1-pixel-wide shots survive the shrinking), and the last ``stack`` screens are stacked
as channels, the newest last, divided by 255. The trade vector follows as 8 constant channels,
so one ``float32`` image in [0, 1] of ``stack + 8`` channels carries everything and RLlib's
default CNN encoder reads it as it is (it does not convert ``uint8`` images).
"""

from __future__ import annotations

import numpy as np

from envs.atari.stackelberg import PRICES

TRADE_FEATURES = (
    "seller_bullets",
    "buyer_bullets",
    "offer_none",
    *(f"offer_{price:g}" for price in PRICES),
)
NUM_TRADE_FEATURES = len(TRADE_FEATURES)
SCREEN_SHAPE = (210, 160)


def trade_vector(seller_bullets: int, buyer_bullets: int, offer: int, max_bullets: int):
    """The trade features; ``offer``: 0 (none) or 1-5 (the price index + 1)."""
    vector = np.zeros(NUM_TRADE_FEATURES, np.float32)
    vector[0] = seller_bullets / max_bullets
    vector[1] = buyer_bullets / max_bullets
    vector[2 + offer] = 1.0
    return vector


def _block_indices(length: int, size: int) -> np.ndarray:
    """``(k, size)`` indices: row ``i`` holds the ``i``-th index of each of ``size`` nearly equal
    blocks covering ``range(length)``, repeating a shorter block's last index."""
    starts = (np.arange(size) * length) // size
    ends = (np.arange(1, size + 1) * length) // size
    width = int((ends - starts).max())
    return np.minimum(starts[None, :] + np.arange(width)[:, None], ends[None, :] - 1)


class FrameStack:
    """Max-pooled, stacked grayscale screens (module docstring)."""

    def __init__(self, size: int, stack: int) -> None:
        if size > min(SCREEN_SHAPE):
            raise ValueError(f"frame_size must be at most {min(SCREEN_SHAPE)}; got {size}")
        self.size = size
        self.stack = stack
        self._rows = _block_indices(SCREEN_SHAPE[0], size)
        self._columns = _block_indices(SCREEN_SHAPE[1], size)
        self._frames = np.zeros((stack, size, size), np.uint8)  # oldest first

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.size, self.size, self.stack + NUM_TRADE_FEATURES)

    def shrink(self, screen: np.ndarray) -> np.ndarray:
        """``screen`` (210 x 160) max-pooled to ``size`` x ``size``."""
        rows = screen[self._rows[0]]
        for index in self._rows[1:]:
            np.maximum(rows, screen[index], out=rows)
        out = rows[:, self._columns[0]]
        for index in self._columns[1:]:
            np.maximum(out, rows[:, index], out=out)
        return out

    def reset(self, screen: np.ndarray) -> None:
        """Fill the stack with the first screen."""
        self._frames[:] = self.shrink(screen)

    def push(self, screen: np.ndarray) -> None:
        self._frames[:-1] = self._frames[1:]
        self._frames[-1] = self.shrink(screen)

    def observation(self, trade: np.ndarray) -> np.ndarray:
        """The stacked screens (in [0, 1]) followed by the trade vector as constant channels."""
        screens = self._frames.transpose(1, 2, 0) * np.float32(1 / 255)
        planes = np.broadcast_to(trade, (self.size, self.size, len(trade)))
        return np.concatenate([screens, planes], axis=2)
