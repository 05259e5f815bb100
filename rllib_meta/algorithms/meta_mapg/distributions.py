"""Action distributions of the meta-agent's policy head, written functionally so that the
inner loop can differentiate log-probabilities twice.

- :class:`Categorical`: softmax over ``n`` logits (the matrix games, paper 001 App. C.1);
- :class:`DiagonalGaussian`: a Gaussian LSTM policy for continuous actions (paper 001 Sec. 5,
  2-agent HalfCheetah): the network outputs the mean and the log standard deviation of every
  action dimension, ``(..., 2 * d)``.

Each maps network outputs and taken actions to the log-probability of every step's action and
the policy's entropy at that step, both ``(...)``, the shape of the batch without the action
dimension.
"""

import math
from typing import Protocol

import torch

LOG_2PI_E = math.log(2 * math.pi * math.e)


class ActionDistribution(Protocol):
    def num_outputs(self, action_dim: int) -> int: ...

    def log_prob_and_entropy(
        self, outputs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


class Categorical:
    """``pi(a | h) = softmax(outputs)[a]``; ``actions`` integer, the batch's shape."""

    def num_outputs(self, action_dim: int) -> int:
        return action_dim

    def log_prob_and_entropy(self, outputs, actions):
        log_pi = torch.log_softmax(outputs, -1)
        taken = log_pi.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
        return taken, -(log_pi.exp() * log_pi).sum(-1)


class DiagonalGaussian:
    """``pi(a | h) = N(a; mu, diag(sigma^2))`` with ``outputs = [mu, log sigma]``; ``actions``
    ``(..., d)``. ``log sigma`` is clamped to ``[min_log_std, max_log_std]`` so that a few bad
    outer steps cannot make the density degenerate."""

    def __init__(self, min_log_std: float = -5.0, max_log_std: float = 2.0):
        if not min_log_std < max_log_std:
            raise ValueError(
                f"need min_log_std < max_log_std, got {min_log_std!r} and {max_log_std!r}"
            )
        self.min_log_std, self.max_log_std = min_log_std, max_log_std

    def num_outputs(self, action_dim: int) -> int:
        return 2 * action_dim

    def log_prob_and_entropy(self, outputs, actions):
        mean, log_std = outputs.chunk(2, -1)
        log_std = log_std.clamp(self.min_log_std, self.max_log_std)
        z = (actions - mean) * torch.exp(-log_std)
        log_prob = -0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)
        entropy = log_std + 0.5 * LOG_2PI_E
        return log_prob.sum(-1), entropy.sum(-1)


CATEGORICAL = Categorical()
