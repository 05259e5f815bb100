"""State handling shared by rllib-meta's single-module EnvRunners."""

from typing import Any

import ray
from ray.rllib.core import COMPONENT_RL_MODULE, DEFAULT_MODULE_ID


def load_module_state(module, state: dict[str, Any]) -> None:
    """Load the default module's weights from an EnvRunner ``state``, if it holds them.

    RLlib's ``sync_weights`` broadcasts the module states as one ``ray.ObjectRef``; a restored
    checkpoint gives them as a plain dict.
    """
    module_states = state.get(COMPONENT_RL_MODULE, {})
    if isinstance(module_states, ray.ObjectRef):
        module_states = ray.get(module_states)
    if DEFAULT_MODULE_ID in module_states:
        module.set_state(module_states[DEFAULT_MODULE_ID])
