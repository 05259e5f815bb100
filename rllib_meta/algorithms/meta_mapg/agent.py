"""The meta-agent's parameters: LSTM policy, LSTM value network, learned inner learning rates."""

import dataclasses

import torch
from torch import nn
from torch.func import functional_call

from rllib_meta.algorithms.meta_mapg.distributions import CATEGORICAL, ActionDistribution
from rllib_meta.algorithms.meta_mapg.networks import LSTMNet


@dataclasses.dataclass
class AgentParams:
    """The meta-agent's ``phi_0`` as the replay uses it: its own parameters, or per-chain
    copies with a leading chain dimension ``(C, ...)`` (:meth:`MetaAgent.chain_copies`)."""

    policy: dict[str, torch.Tensor]
    value: dict[str, torch.Tensor]
    inner_learning_rates: torch.Tensor  # (L,), or (C, L)


def _copies(tensor: torch.Tensor, chains: int, requires_grad: bool) -> torch.Tensor:
    """A new leaf ``(chains, ...)`` whose rows all equal ``tensor``."""
    rows = tensor.detach().unsqueeze(0).repeat(chains, *[1] * tensor.dim())
    return rows.requires_grad_(requires_grad)


class MetaAgent(nn.Module):
    """``phi_0`` of paper 001: the policy that is meta-learned, the outer-loop value network
    (not adapted in the inner loop, App. C.1) and one inner learning rate per chain step
    (learned as in Al-Shedivat et al. 2018; initial 0.1 for IPD, 0.01 for RPS).

    ``num_actions`` is the number of discrete actions, or the action dimension for a
    continuous ``distribution`` (``DiagonalGaussian``)."""

    def __init__(
        self,
        num_states: int,
        num_actions: int,
        chain_length: int,
        inner_learning_rate: float,
        hidden: int = 64,
        distribution: ActionDistribution = CATEGORICAL,
    ):
        super().__init__()
        self.num_states = num_states  # observation size (one-hot states in the matrix games)
        outputs = distribution.num_outputs(num_actions)
        self.policy = LSTMNet(num_states, outputs, hidden, distribution)
        self.value = LSTMNet(num_states, 1, hidden)
        self.inner_learning_rates = nn.Parameter(
            torch.full((chain_length,), float(inner_learning_rate))
        )

    def policy_params(self) -> dict[str, torch.Tensor]:
        """The policy parameters as a dict (the functional form the chain unrolls)."""
        return dict(self.policy.named_parameters())

    def own_params(self) -> AgentParams:
        """The module's own parameters (gradients flow to them)."""
        return AgentParams(
            self.policy_params(), dict(self.value.named_parameters()), self.inner_learning_rates
        )

    def chain_copies(self, chains: int, learn_inner_learning_rates: bool = True) -> AgentParams:
        """``phi_0`` once per chain of a meta-batch: new leaves ``(chains, ...)`` whose rows all
        equal the module's parameters, so that row ``c`` of their gradient is chain ``c``'s own
        (the per-chain meta-gradients PCGrad combines). The inner learning rates get copies
        that require gradients only when they are learned."""
        own = self.own_params()
        return AgentParams(
            policy={n: _copies(p, chains, True) for n, p in own.policy.items()},
            value={n: _copies(p, chains, True) for n, p in own.value.items()},
            inner_learning_rates=_copies(
                own.inner_learning_rates, chains, learn_inner_learning_rates
            ),
        )

    def values(
        self, states: torch.Tensor, params: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """The value network's predictions ``(..., K, H)``, with its own parameters or
        ``params`` (chain-batched copies)."""
        if params is None:
            return self.value(states).squeeze(-1)
        return functional_call(self.value, params, (states,)).squeeze(-1)
