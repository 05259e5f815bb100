"""Value checks shared by the algorithm configs' ``validate()``: each names the setting, the
bad value and what is allowed."""

from typing import Any


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
