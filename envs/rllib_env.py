"""RLlib side of the environments: a deterministic-order adapter and ``register_env`` calls.

RLlib's own ``ParallelPettingZooEnv`` builds its agent list from a ``set``, so the order of
agents (and of everything keyed by them) changes from process to process. The adapter here
keeps the PettingZoo env's ``possible_agents`` order.
"""

import functools

import gymnasium as gym
from pettingzoo import ParallelEnv
from ray.rllib.env.multi_agent_env import MultiAgentEnv
from ray.tune.registry import register_env

from envs.registry import env_names, make


class ParallelEnvAdapter(MultiAgentEnv):
    """RLlib ``MultiAgentEnv`` view of a PettingZoo ``ParallelEnv``, agent order preserved."""

    def __init__(self, par_env: ParallelEnv):
        super().__init__()
        self.par_env = par_env
        self.possible_agents = list(par_env.possible_agents)
        self.agents = list(self.possible_agents)
        self.observation_spaces = {a: par_env.observation_space(a) for a in self.possible_agents}
        self.action_spaces = {a: par_env.action_space(a) for a in self.possible_agents}
        self.observation_space = gym.spaces.Dict(self.observation_spaces)
        self.action_space = gym.spaces.Dict(self.action_spaces)
        self.render_mode = getattr(par_env, "render_mode", None)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        observations, infos = self.par_env.reset(seed=seed, options=options)
        self.agents = list(self.par_env.agents)
        return observations, infos

    def step(self, action_dict: dict):
        observations, rewards, terminateds, truncateds, infos = self.par_env.step(action_dict)
        self.agents = list(self.par_env.agents)
        terminateds["__all__"] = all(terminateds.values())
        truncateds["__all__"] = all(truncateds.values())
        return observations, rewards, terminateds, truncateds, infos

    def render(self):
        return self.par_env.render()

    def close(self):
        self.par_env.close()


def create_rllib_env(name: str, env_config: dict) -> ParallelEnvAdapter:
    """Build env ``name`` for RLlib; ``env_config`` may be an RLlib ``EnvContext``."""
    return ParallelEnvAdapter(make(name, **dict(env_config)))


def register_all() -> None:
    """``register_env`` every named env; the creator pickles by reference, so remote
    EnvRunners only need this package installed. Safe to call again after a new ``ray.init``."""
    for name in env_names():
        register_env(name, functools.partial(create_rllib_env, name))
