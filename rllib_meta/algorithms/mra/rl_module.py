"""MRA's networks as one RLlib ``TorchRLModule``: one :class:`~.networks.MRANetworks` per role
(``agent`` / ``collector``; ``pacman`` and ``ghost`` in the Pac-Man world), each shared by
every agent of its role (paper 002, section 6.1: "the parameters theta, phi, zeta are shared
by homogeneous agents").

The roles live in one RLModule (an ``nn.ModuleDict``) rather than one RLModule per role: the
Learner's losses couple the roles (each role's critic reads every agent's action) and the
EnvRunner acts for all roles in one batched pass, so RLlib's weight sync and checkpoints move
them together. ``model_config`` carries the :class:`~.networks.NetworkSettings` fields, the
``role_names`` and ``num_games`` (``|M|``, set by the config).
"""

from __future__ import annotations

import torch
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

from rllib_meta.algorithms.mra.networks import MRANetworks, NetworkSettings

SETTING_KEYS = (
    "num_latents",
    "latent",
    "architecture",
    "hidden_size",
    "key_size",
    "num_games",
    "gumbel_temperature",
)


class MRAModule(TorchRLModule):
    """``roles``: role name -> that role's :class:`MRANetworks` (see the module docstring).
    Read by the MRA EnvRunner and Learner directly; RLlib's generic sampling path is not
    used."""

    def setup(self):
        config = self.model_config
        settings = NetworkSettings(**{key: config[key] for key in SETTING_KEYS})
        self.role_names = tuple(config["role_names"])
        self.roles = torch.nn.ModuleDict({role: MRANetworks(settings) for role in self.role_names})

    def _forward(self, batch, **kwargs):
        raise NotImplementedError(
            "MRAModule is read by the MRA EnvRunner and Learner, not by RLlib's generic "
            "sampling path."
        )
