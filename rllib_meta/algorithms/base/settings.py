"""Algorithm settings declared once: a default, a value check and a line of documentation.

A config class lists its settings in one table (``SETTINGS`` of
:class:`~rllib_meta.algorithms.base.config.MetaAlgorithmConfig`); the base config sets the
defaults, accepts them in ``training()``, tells the ``rllib`` command's key validation about
them and runs every check in ``validate()``. Each check raises ``ValueError`` naming the
setting, the bad value and what is allowed.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Check = Callable[[str, Any], None]


@dataclass(frozen=True)
class Setting:
    """One setting: its ``default`` (deep-copied into every config), the ``check`` its value
    must pass (None: any value) and ``doc``, what it means and where the paper defines it."""

    default: Any
    check: Check | None = None
    doc: str = ""

    def validate(self, name: str, value: Any) -> None:
        if self.check is not None:
            self.check(name, value)


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}.")


def check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")


def check_number(
    name: str,
    value: Any,
    low: float,
    high: float | None = None,
    low_open: bool = False,
) -> None:
    """``value`` must be a real number in ``[low, high]`` (``(low, ...`` if ``low_open``)."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    too_low = is_number and (value <= low if low_open else value < low)
    too_high = is_number and high is not None and value > high
    if not is_number or too_low or too_high:
        left = "(" if low_open else "["
        right = f"{high}]" if high is not None else "inf)"
        raise ValueError(f"{name} must be a number in {left}{low}, {right}, got {value!r}.")


def check_schedule(name: str, value: Any, check: Check) -> None:
    """A value that passes ``check``, or RLlib's piecewise-linear schedule
    ``[[timestep, value], ...]`` (``LearningRateOrSchedule``): two or more pairs, the first at
    timestep 0, timesteps numbers >= 0 and each value passing ``check``."""
    if not isinstance(value, list | tuple):
        check(name, value)
        return
    shape = "[[0, value], [timestep, value], ...]"
    pairs = all(isinstance(p, list | tuple) and len(p) == 2 for p in value)
    if len(value) < 2 or not pairs:
        raise ValueError(f"{name} must be a number or a schedule {shape}, got {value!r}.")
    if value[0][0] != 0:
        raise ValueError(f"{name}: a schedule starts at timestep 0, got {value!r}.")
    for index, (timestep, point) in enumerate(value):
        check_number(f"{name} schedule timestep {index}", timestep, 0.0)
        check(f"{name} schedule value {index}", point)


def check_or_choice(name: str, value: Any, check: Check, allowed: tuple[str, ...]) -> None:
    """One of the strings ``allowed`` (RLlib's ``"auto"``), or a value that passes ``check``."""
    if isinstance(value, str) and value in allowed:
        return
    try:
        check(name, value)
    except ValueError as error:
        words = " or ".join(repr(a) for a in allowed)
        raise ValueError(f"{str(error).rstrip('.')} (or {words}).") from None


def check_bool(name: str, value: Any) -> None:
    """Only ``True`` or ``False`` (not 0 / 1 or a string)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be one of [True, False], got {value!r}.")


# Check factories, for the settings tables.


def choice(*allowed: str) -> Check:
    return lambda name, value: check_choice(name, value, allowed)


def integer(minimum: int) -> Check:
    return lambda name, value: check_int(name, value, minimum)


def number(low: float, high: float | None = None, low_open: bool = False) -> Check:
    return lambda name, value: check_number(name, value, low, high, low_open)


def positive() -> Check:
    """A real number > 0 (learning rates, step sizes)."""
    return number(0.0, low_open=True)


def fraction() -> Check:
    """A real number in [0, 1] (discounts, probabilities, interpolation weights)."""
    return number(0.0, 1.0)


def boolean() -> Check:
    return check_bool


def schedule(check: Check) -> Check:
    """A value that passes ``check``, or a schedule of such values (:func:`check_schedule`)."""
    return lambda name, value: check_schedule(name, value, check)


def or_choice(check: Check, *allowed: str) -> Check:
    return lambda name, value: check_or_choice(name, value, check, allowed)


def optional(check: Check) -> Check:
    """``None`` or a value that passes ``check``."""

    def check_optional(name: str, value: Any) -> None:
        if value is not None:
            check(name, value)

    return check_optional
