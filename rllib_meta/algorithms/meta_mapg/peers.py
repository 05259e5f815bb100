"""How the meta-agent's peers score their actions: the peer side of the joint log-probability
that the DiCE objectives differentiate (paper 001, Eq. 4 and 6).

A peer's parameters are a tensor or a dict of tensors (``chain.inner_update`` updates either);
a :class:`PeerPolicy` maps them and a batch to the peer's log-probability of each of its
actions. :class:`TabularPeers` are the matrix games' personas (App. E.1-E.2);
:class:`NetworkPeers` are peers with a network policy (for instance a pre-trained teammate
population for 2-agent HalfCheetah, paper Sec. 5): the same network architecture for every
peer, each with its own parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import torch
from torch.func import functional_call

from rllib_meta.algorithms.meta_mapg.chain import PlayerParams
from rllib_meta.algorithms.meta_mapg.networks import gather_rows

if TYPE_CHECKING:  # objectives.py imports this module
    from rllib_meta.algorithms.meta_mapg.objectives import TrajectoryBatch


class PeerPolicy(Protocol):
    def log_probs(self, params: PlayerParams, batch: TrajectoryBatch, player: int) -> torch.Tensor:
        """``log pi(a_t | h_t)`` of player ``player``'s actions in ``batch``: ``(K, H)``."""
        ...


class TabularPeers:
    """Memory-one tabular softmax peers: ``params`` are ``(S, A)`` logits (``(C, S, A)``
    chain-batched, with states ``(C, K, H)``)."""

    def log_probs(self, params, batch, player):
        per_state = gather_rows(torch.log_softmax(params, -1), batch.states)  # (..., K, H, A)
        actions = batch.actions[player].long().unsqueeze(-1)
        return per_state.gather(-1, actions).squeeze(-1)


class NetworkPeers:
    """Peers acting with ``network`` (a module whose ``distribution`` scores its outputs) under
    their own parameters (a dict, ``torch.func.functional_call``; chain-batched ``(C, ...)``
    for a network that takes them, such as ``networks.LSTMNet``)."""

    def __init__(self, network: torch.nn.Module):
        self.network = network

    def log_probs(self, params, batch, player):
        outputs = functional_call(self.network, params, (batch.states,))
        log_prob, _ = self.network.distribution.log_prob_and_entropy(outputs, batch.actions[player])
        return log_prob


TABULAR_PEERS = TabularPeers()
