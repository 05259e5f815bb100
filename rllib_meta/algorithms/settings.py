"""What the algorithm configs' ``training()`` methods share: copying the settings a call
provided onto the config (RLlib's ``NotProvided`` marks the ones left out)."""

from collections.abc import Iterable, Mapping
from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided


def set_provided(config: AlgorithmConfig, names: Iterable[str], values: Mapping[str, Any]) -> None:
    """``setattr(config, name, values[name])`` for every ``name`` whose value was provided;
    ``values`` is the ``training()`` call's ``locals()``."""
    for name in names:
        if values[name] is not NotProvided:
            setattr(config, name, values[name])
