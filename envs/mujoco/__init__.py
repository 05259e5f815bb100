"""2-agent HalfCheetah (MaMuJoCo "2x3"; paper 001 section 5, Fig. 2d): the ``mujoco`` extra.

- :mod:`envs.mujoco.halfcheetah`: ``halfcheetah_2x3``, the PettingZoo env on MaMuJoCo
  (``gymnasium_robotics.mamujoco_v1``), registered as ``envs.make("halfcheetah_2x3")``;
- :mod:`envs.mujoco.batched`: :class:`~envs.mujoco.batched.BatchedHalfCheetah`, B cheetahs
  stepped at once with HalfCheetah-v5's rules, for chain sampling with policies in the loop.

Importing this package imports neither ``mujoco`` nor ``gymnasium_robotics`` (so ``import envs``
works without the extra); the two modules above need them and raise
:class:`MissingExtraError`, naming the ``pip install`` command, when they are missing.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from envs.errors import MissingExtraError

INSTALL_HINT = 'pip install "rllib-meta[mujoco]"'
PLAYERS = ("player_0", "player_1")  # back leg (MaMuJoCo's agent_0), front leg (agent_1)
DIRECTIONS = (1, -1)  # +1: running right is rewarded (HalfCheetah-v5), -1: running left
# mujoco 4 deprecates an attribute of gymnasium's half_cheetah.xml; the model is unchanged.
KNOWN_MODEL_WARNING = "compiler attribute 'settotalmass' is deprecated"


def require_mujoco() -> ModuleType:
    """``mujoco``, once ``mujoco`` and ``gymnasium_robotics`` are both importable.

    Raises:
        MissingExtraError: either is missing; the message names :data:`INSTALL_HINT`.
    """
    for name in ("mujoco", "gymnasium_robotics"):
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise MissingExtraError(
                f"the 2-agent HalfCheetah env needs the mujoco extra ({name} is not "
                f"installed: {error}); install it with: {INSTALL_HINT}",
                name=name,
            ) from error
    return importlib.import_module("mujoco")


@contextlib.contextmanager
def quiet_model_warnings() -> Iterator[None]:
    """While compiling gymnasium's HalfCheetah model: drop :data:`KNOWN_MODEL_WARNING` and pass
    any other MuJoCo warning on as a Python ``RuntimeWarning``. MuJoCo's default handler prints
    each warning and appends it to ``MUJOCO_LOG.TXT`` in the working directory; the previous
    handler is restored on exit."""
    mujoco = require_mujoco()

    def handle(message: str) -> None:
        if KNOWN_MODEL_WARNING not in message:
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    previous = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(handle)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


def check_settings(horizon: Any, direction: Any, reward_scale: Any) -> None:
    """The settings the env and the batched core share; a ``ValueError`` names the bad one."""
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1; got {horizon!r}")
    if isinstance(direction, bool) or direction not in DIRECTIONS:
        raise ValueError(f"direction must be 1 (run right) or -1 (run left); got {direction!r}")
    is_number = isinstance(reward_scale, int | float) and not isinstance(reward_scale, bool)
    if not (is_number and math.isfinite(reward_scale)):
        raise ValueError(f"reward_scale must be a finite number; got {reward_scale!r}")


__all__ = [
    "DIRECTIONS",
    "INSTALL_HINT",
    "PLAYERS",
    "MissingExtraError",
    "check_settings",
    "quiet_model_warnings",
    "require_mujoco",
]
