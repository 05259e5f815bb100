"""Networks of the meta-agent (paper 001, Appendix C.1) and tabular peers (Appendix E.1-E.2).

The meta-agent's policy and value networks are ``Linear(obs, 64) -> ReLU -> LSTM(64) ->
Linear(64, out)``, separate (no parameter sharing, App. C.1), with the LSTM state reset to
zeros at the start of every trajectory. The forward pass is written out (not ``nn.LSTM``'s fused
kernel) so that it is twice differentiable with respect to parameters given as a dict
(``torch.func.functional_call``), which the inner loop needs (``create_graph=True``).

Observations are either state indices (``(B, T)`` integers, for the one-hot observations of the
matrix games) or feature vectors (``(B, T, D)``). For state indices the first layer applied to a
one-hot vector is a column lookup, so the encoder and the LSTM input projection are computed
once per state (a ``(S, 4 * hidden)`` table) and gathered: the same function, a fraction of the
work.
"""

from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn
from torch.nn import functional as F

from rllib_meta.algorithms.meta_mapg.distributions import CATEGORICAL, ActionDistribution


class _StackSteps(torch.autograd.Function):
    """``torch.stack(steps, 1)`` whose backward is ``unbind``, itself differentiable.

    ``torch.stack``'s backward selects each step's slice of the gradient; differentiating
    through those selects (the outer gradient through an inner gradient taken with
    ``create_graph=True``) builds and zero-fills one full ``(B, T, D)`` tensor per time step,
    a cost quadratic in T (about a quarter of the meta-gradient at H = 150). ``unbind``'s own
    backward is a single ``stack``.
    """

    @staticmethod
    def forward(ctx, *steps: torch.Tensor) -> torch.Tensor:
        return torch.stack(steps, 1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return grad.unbind(1)


def stack_steps(steps: list[torch.Tensor]) -> torch.Tensor:
    """Per-time-step ``(B, D)`` tensors as ``(B, T, D)``, cheap to differentiate twice."""
    return _StackSteps.apply(*steps)


Params = Mapping[str, torch.Tensor]


def is_state_index(observations: torch.Tensor) -> bool:
    """Integer observations are state indices (the matrix games' one-hot observations)."""
    return not observations.dtype.is_floating_point


def gather_rows(table: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """``table[indices]`` for integer ``indices`` of any shape, as one ``index_select``:
    several times cheaper than advanced indexing for small rows, and so is its backward
    (``index_add``)."""
    rows = torch.index_select(table, 0, indices.reshape(-1).long())
    return rows.reshape(*indices.shape, table.shape[-1])


class LSTMNet(nn.Module):
    """``Linear(obs, hidden) -> ReLU -> LSTM(hidden) -> Linear(hidden, out)``; a policy when
    given the ``distribution`` its outputs parameterise (``distributions.py``)."""

    def __init__(
        self,
        obs_dim: int,
        out_dim: int,
        hidden: int = 64,
        distribution: ActionDistribution | None = None,
    ):
        super().__init__()
        self.obs_dim = obs_dim
        self.hidden = hidden
        self.distribution = distribution
        self.encoder = nn.Linear(obs_dim, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)  # holds the weights only
        self.head = nn.Linear(hidden, out_dim)

    def _params(self, params: Params | None) -> Params:
        """``params``, or the module's own parameters (the functional form's default)."""
        return params if params is not None else dict(self.named_parameters())

    def _feature_gates(self, features: torch.Tensor, params: Params | None) -> torch.Tensor:
        """The LSTM's input contribution ``W_ih relu(encoder(x)) + b_ih + b_hh`` of features
        ``(..., D)``: ``(..., 4 * hidden)``."""
        p = self._params(params)
        encoded = F.relu(F.linear(features, p["encoder.weight"], p["encoder.bias"]))
        bias = p["lstm.bias_ih_l0"] + p["lstm.bias_hh_l0"]
        return F.linear(encoded, p["lstm.weight_ih_l0"], bias)

    def state_gates(self, params: Params | None = None) -> torch.Tensor:
        """:meth:`_feature_gates` of every one-hot state: ``(S, 4 * hidden)``, the table that
        state-index observations gather from. ``params``: the parameters to use instead of the
        module's own (functional form)."""
        one_hot = torch.eye(self.obs_dim, dtype=self.head.weight.dtype)
        return self._feature_gates(one_hot, params)

    def _input_gates_per_step(self, observations: torch.Tensor) -> Iterable[torch.Tensor]:
        """The input contribution at each time step of ``(B, T)`` state indices or ``(B, T, D)``
        features. For indices, one gather of all steps from :meth:`state_gates`."""
        if is_state_index(observations):
            return gather_rows(self.state_gates(), observations).unbind(1)
        # unbind, not indexing: the backward of T slices would build T full-size gradients.
        return self._feature_gates(observations, None).unbind(1)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Outputs for whole trajectories from a zero initial state: ``(B, T, out)``."""
        h, c = self.initial_state(observations.shape[0])
        weight_hh_t = self.lstm.weight_hh_l0.t()
        outputs = []
        for gates_t in self._input_gates_per_step(observations):
            h, c = self._cell(gates_t, h, c, weight_hh_t)
            outputs.append(h)
        return self.head(stack_steps(outputs))

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = self.head.weight.new_zeros(batch, self.hidden)
        return zeros, zeros.clone()

    def stepper(self, params: Params | None = None) -> Callable:
        """A one-step function ``(observation, state) -> (output, state)`` for sampling, with
        the module's parameters or ``params``; the per-state input gates computed once
        (state-index observations)."""
        params = self._params(params)
        weight_hh_t = params["lstm.weight_hh_l0"].t()
        table = self.state_gates(params)

        def step(observation: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
            if is_state_index(observation):
                gates_x = gather_rows(table, observation)
            else:
                gates_x = self._feature_gates(observation, params)
            h, c = self._cell(gates_x, *state, weight_hh_t)
            return F.linear(h, params["head.weight"], params["head.bias"]), (h, c)

        return step

    def _cell(
        self, gates_x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, weight_hh_t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # PyTorch's gate order: input, forget, cell, output. chunk (one backward node) rather
        # than slices (one zero-filled full-size gradient each).
        gate_i, gate_f, gate_g, gate_o = torch.addmm(gates_x, h, weight_hh_t).chunk(4, 1)
        c = torch.sigmoid(gate_f) * c + torch.sigmoid(gate_i) * torch.tanh(gate_g)
        h = torch.sigmoid(gate_o) * torch.tanh(c)
        return h, c


class TabularPolicy(nn.Module):
    """A memory-one tabular softmax policy: ``logits[state]`` (the matrix games' peers, and a
    meta-agent whose exact values ``envs.matrix.exact`` can compute)."""

    distribution = CATEGORICAL

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = nn.Parameter(logits.clone())

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.logits[states.long()]

    def initial_state(self, batch: int) -> None:
        return None

    def stepper(self, params: Params | None = None) -> Callable:
        logits = self.logits if params is None else params["logits"]
        return lambda states, state: (gather_rows(logits, states), None)


def tabular_log_probs(
    logits: torch.Tensor, states: torch.Tensor, actions: torch.Tensor
) -> torch.Tensor:
    """Log-probabilities of tabular softmax policies (the peers, paper App. E.1).

    ``logits`` (P, S, A) for P peers, ``states`` (..., T) shared state indices, ``actions``
    (P, ..., T): returns (P, ..., T).
    """
    log_pi = torch.log_softmax(logits, -1)  # (P, S, A)
    flat_states = states.reshape(-1)
    per_state = log_pi[:, flat_states]  # (P, N, A)
    chosen = per_state.gather(-1, actions.reshape(actions.shape[0], -1, 1)).squeeze(-1)
    return chosen.reshape(actions.shape)
