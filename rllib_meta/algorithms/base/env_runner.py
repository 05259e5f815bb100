"""``SamplingEnvRunner``: what rllib-meta's own EnvRunners share. One registered env, one
RLModule built from its spaces, a seed, the random generators and lifetime step count that a
checkpoint must carry, and the RLlib plumbing around them. The subclasses sample by their own
methods (chains, optimisation trajectories, episodes of one phase) instead of RLlib's episode
loop.

The work of one sampling call is split into shares (:class:`Share`): a runner samples the share
it is given (``self.share``), and what the share carries from one call to the next (the
generators' states and :meth:`SamplingEnvRunner.sampler_state`) travels with the share
(:meth:`SamplingEnvRunner.sample_share`), so any runner can sample any share and get the same
data (see ``MetaAlgorithm.sample_on_runners``)."""

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import ray
import torch
from ray.rllib.core import COMPONENT_RL_MODULE, DEFAULT_MODULE_ID
from ray.rllib.env import INPUT_ENV_SPACES
from ray.rllib.env.env_runner import EnvRunner
from ray.rllib.utils.checkpoints import Checkpointable
from ray.rllib.utils.metrics import NUM_ENV_STEPS_SAMPLED_LIFETIME

import envs

RNG_STATE = "rng_state"
SAMPLER_STATE = "sampler_state"


@dataclass(frozen=True)
class Share:
    """Share ``index`` of ``count`` of one sampling call's work (chains, policy pairs,
    episodes). Share ``k``'s home is remote EnvRunner ``k + 1`` (the local runner, when there
    are no remote ones, holds the only share), but any runner may be given it."""

    index: int
    count: int

    def of(self, total: int) -> int:
        """This share's part of ``total`` items: ``total // count``, one more for the first
        ``total % count`` shares (so the parts add up to ``total``)."""
        return total // self.count + (self.index < total % self.count)

    @classmethod
    def home(cls, num_env_runners: int, worker_index: int | None) -> "Share":
        """The share a runner samples by default: its own (the local runner's is share 0)."""
        return cls(max((worker_index or 0) - 1, 0), max(num_env_runners, 1))


class SamplingEnvRunner(EnvRunner, Checkpointable):
    """Builds ``self.env`` (``config.env`` with ``config.env_config``) and ``self.module``
    (the default module, on player 0's spaces); ``self.seed`` is the runner's seed (fresh
    entropy when the config has none). One torch thread unless OMP_NUM_THREADS says otherwise
    (tiny models run 5-20x slower with torch's default on small CPUs).

    Checkpoints hold the module's weights, ``num_env_steps_sampled_lifetime``, the state of
    every generator named in ``RANDOM_GENERATORS`` (``torch.Generator`` or numpy
    ``Generator`` attributes) and what :meth:`sampler_state` returns, so that a restored
    runner continues exactly where the saved one was. The same state without the weights is
    a share's state (:meth:`share_state`): a subclass sizes its work by ``self.share`` (never
    by ``worker_index``) and keeps everything a share carries between calls in those
    generators and in :meth:`sampler_state`.
    """

    RANDOM_GENERATORS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, config, **kwargs):
        super().__init__(config=config, **kwargs)
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        self.env = envs.make(config.env, **dict(config.env_config))
        spec = config.get_rl_module_spec(spaces=self.get_spaces(), inference_only=False)
        self.module = spec.build()
        self.seed = self._seed if self._seed is not None else _fresh_seed()
        self.num_env_steps_sampled_lifetime = 0
        self.share = Share.home(config.num_env_runners, self.worker_index)

    def get_spaces(self) -> dict[str, tuple[gym.Space, gym.Space]]:
        spaces = (self.env.observation_space("player_0"), self.env.action_space("player_0"))
        return {INPUT_ENV_SPACES: spaces, DEFAULT_MODULE_ID: spaces}

    # -- checkpoints -----------------------------------------------------------------------

    def sampler_state(self) -> dict[str, Any]:
        """What else the sampler carries from one ``sample()`` to the next (override)."""
        return {}

    def load_sampler_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`sampler_state` returned (override with it)."""

    def share_state(self) -> dict[str, Any]:
        """What the share being sampled carries to its next call: the generators' states
        and :meth:`sampler_state`."""
        return {
            RNG_STATE: {
                name: _generator_state(getattr(self, name)) for name in self.RANDOM_GENERATORS
            },
            SAMPLER_STATE: self.sampler_state(),
        }

    def load_share_state(self, state: dict[str, Any]) -> None:
        """Continue the share whose :meth:`share_state` this is."""
        for name, saved in state[RNG_STATE].items():
            _set_generator_state(getattr(self, name), saved)
        self.load_sampler_state(state[SAMPLER_STATE])

    def sample_share(
        self,
        share: Share,
        state: dict[str, Any] | None,
        sample: Callable[["SamplingEnvRunner"], Any],
    ) -> tuple[Any, dict[str, Any]]:
        """``sample(self)`` on ``share``, continued from its ``state`` (None: from this
        runner's own, as the share's home runner does on its first call); returns the
        result and the share's state after it."""
        self.share = share
        if state is not None:
            self.load_share_state(state)
        return sample(self), self.share_state()

    def get_state(self, components=None, *, not_components=None, **kwargs) -> dict[str, Any]:
        return {
            COMPONENT_RL_MODULE: {DEFAULT_MODULE_ID: self.module.get_state()},
            **self.share_state(),
            NUM_ENV_STEPS_SAMPLED_LIFETIME: self.num_env_steps_sampled_lifetime,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Load what :meth:`get_state` saved; RLlib's weight syncs give only the module."""
        self.load_module_state(state)
        for name, saved in state.get(RNG_STATE, {}).items():
            _set_generator_state(getattr(self, name), saved)
        if SAMPLER_STATE in state:
            self.load_sampler_state(state[SAMPLER_STATE])
        if NUM_ENV_STEPS_SAMPLED_LIFETIME in state:
            self.num_env_steps_sampled_lifetime = state[NUM_ENV_STEPS_SAMPLED_LIFETIME]

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

    # -- RLlib plumbing --------------------------------------------------------------------

    def get_metrics(self) -> dict:
        return {}  # the algorithms report from what sample() returns

    def get_ctor_args_and_kwargs(self):
        return ((), {"config": self.config})

    def assert_healthy(self):
        assert self.env is not None and self.module is not None

    def stop(self) -> None:
        self.env.close()


def _fresh_seed() -> int:
    """A seed from fresh entropy, in the range both torch and numpy generators take (the raw
    128-bit entropy overflows ``torch.Generator.manual_seed``)."""
    return int(np.random.SeedSequence().generate_state(1)[0])


def _generator_state(generator: torch.Generator | np.random.Generator) -> Any:
    if isinstance(generator, torch.Generator):
        return generator.get_state().numpy()
    return generator.bit_generator.state


def _set_generator_state(generator: torch.Generator | np.random.Generator, state: Any) -> None:
    if isinstance(generator, torch.Generator):
        generator.set_state(torch.from_numpy(np.asarray(state)))
    else:
        generator.bit_generator.state = state
