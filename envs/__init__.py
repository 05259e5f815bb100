"""Multi-agent environments for rllib-meta.

Every environment is a PettingZoo ``ParallelEnv`` built by :func:`make` from a stable name and
keyword configuration; :func:`register_all` registers each one with RLlib under the same name.
Importing this package is cheap: it does not import Ray.
"""

from envs.registry import env_names, make


def register_all() -> None:
    """Register every environment with RLlib (idempotent; imports Ray)."""
    from envs.rllib_env import register_all as _register_all

    _register_all()


__all__ = ["env_names", "make", "register_all"]
