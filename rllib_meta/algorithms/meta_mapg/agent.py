"""The meta-agent's parameters: LSTM policy, LSTM value network, learned inner learning rates."""

import torch
from torch import nn

from rllib_meta.algorithms.meta_mapg.distributions import CATEGORICAL, ActionDistribution
from rllib_meta.algorithms.meta_mapg.networks import LSTMNet


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

    def values(self, states: torch.Tensor) -> torch.Tensor:
        return self.value(states).squeeze(-1)
