"""What rllib-meta's own EnvRunners share: one registered env, one RLModule built from its
spaces, a seed, and the RLlib plumbing around them. The subclasses sample by their own
methods (chains, optimisation trajectories) instead of RLlib's episode loop."""

import os
from typing import Any

import gymnasium as gym
import numpy as np
import ray
import torch
from ray.rllib.core import COMPONENT_RL_MODULE, DEFAULT_MODULE_ID
from ray.rllib.env import INPUT_ENV_SPACES
from ray.rllib.env.env_runner import EnvRunner
from ray.rllib.utils.checkpoints import Checkpointable

import envs


class SingleModuleEnvRunner(EnvRunner, Checkpointable):
    """Builds ``self.env`` (``config.env`` with ``config.env_config``) and ``self.module``
    (the default module, on player 0's spaces); ``self.seed`` is the runner's seed (fresh
    entropy when the config has none). One torch thread unless OMP_NUM_THREADS says otherwise
    (design decision 6)."""

    def __init__(self, *, config, **kwargs):
        super().__init__(config=config, **kwargs)
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        self.env = envs.make(config.env, **dict(config.env_config))
        spec = config.get_rl_module_spec(spaces=self.get_spaces(), inference_only=False)
        self.module = spec.build()
        self.seed = self._seed if self._seed is not None else int(np.random.SeedSequence().entropy)

    def get_spaces(self) -> dict[str, tuple[gym.Space, gym.Space]]:
        spaces = (self.env.observation_space("player_0"), self.env.action_space("player_0"))
        return {INPUT_ENV_SPACES: spaces, DEFAULT_MODULE_ID: spaces}

    def load_module_state(self, state: dict[str, Any]) -> None:
        """Load the module's weights from an EnvRunner ``state``, if it holds them.

        RLlib's ``sync_weights`` broadcasts the module states as one ``ray.ObjectRef``; a
        restored checkpoint gives them as a plain dict.
        """
        module_states = state.get(COMPONENT_RL_MODULE, {})
        if isinstance(module_states, ray.ObjectRef):
            module_states = ray.get(module_states)
        if DEFAULT_MODULE_ID in module_states:
            self.module.set_state(module_states[DEFAULT_MODULE_ID])

    def get_metrics(self) -> dict:
        return {}  # the algorithms report from what sample() returns

    def get_ctor_args_and_kwargs(self):
        return ((), {"config": self.config})

    def assert_healthy(self):
        assert self.env is not None and self.module is not None

    def stop(self) -> None:
        self.env.close()


def share_of(total: int, runners: int, worker_index: int) -> int:
    """EnvRunner ``worker_index``'s share of ``total`` items (policy pairs, episodes); the
    local runner, index 0, takes everything when there are no remote runners."""
    if runners == 0:
        return total
    index = worker_index - 1
    return total // runners + (index < total % runners)
