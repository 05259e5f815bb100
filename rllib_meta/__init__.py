"""rllib-meta: meta-learning multi-agent reinforcement learning on Ray RLlib.

Importing this package registers every rllib-meta environment with RLlib
(``ray.tune.registry.register_env``) and every rllib-meta algorithm with Ray Tune, so that a
config or YAML file can name them (``env: ipd``, ``run: MetaMAPG``). Registration is idempotent
and can be repeated after a new ``ray.init`` (Tune's registry is scoped to one Ray job).
"""

from rllib_meta.registry import register_all

__version__ = "0.1.0"

register_all()

__all__ = ["__version__", "register_all"]
