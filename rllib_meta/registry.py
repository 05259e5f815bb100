"""Algorithm and environment names, and their registration with Ray Tune and RLlib."""

import importlib

from rllib_meta.algorithms import ALGORITHMS
from rllib_meta.errors import ConfigError, unknown_choice


def import_object(path: str) -> object:
    """Resolve ``"package.module:attribute"`` (attribute may be dotted) to the Python object."""
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"{path!r} is not of the form 'package.module:object'.")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(
            f"cannot import module {module_name!r} (from {path!r}): {error}"
        ) from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"module {module_name!r} has no attribute {attribute!r} ({path!r}).")
        obj = getattr(obj, part)
    return obj


def rllib_algorithm_names() -> list[str]:
    """The algorithms that RLlib itself registers with Tune (PPO, DQN, ...)."""
    from ray.rllib.algorithms.registry import ALGORITHMS as RLLIB_ALGORITHMS

    return sorted(RLLIB_ALGORITHMS)


def algorithm_names() -> list[str]:
    """Every algorithm name that ``run:`` / ``--algo`` accepts: rllib-meta's, then RLlib's."""
    return sorted(ALGORITHMS) + rllib_algorithm_names()


def get_algorithm_class(name: str) -> type:
    """The ``Algorithm`` subclass for a registered name or a ``"module:Class"`` path."""
    from ray.rllib.algorithms.algorithm import Algorithm

    if name in ALGORITHMS:
        cls = import_object(ALGORITHMS[name])
    elif name in rllib_algorithm_names():
        from ray.rllib.algorithms.registry import _get_algorithm_class

        cls = _get_algorithm_class(name)
    elif ":" in name:
        cls = import_object(name)
    else:
        raise unknown_choice("algorithm", name, algorithm_names())
    if not (isinstance(cls, type) and issubclass(cls, Algorithm)):
        raise ConfigError(f"{name!r} resolves to {cls!r}, which is not an RLlib Algorithm class.")
    return cls


def register_all() -> None:
    """Register every env with RLlib and every rllib-meta algorithm with Tune (idempotent)."""
    from ray.tune.registry import register_trainable

    import envs

    envs.register_all()
    for name, path in ALGORITHMS.items():
        register_trainable(name, import_object(path))
