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

Chain-batched parameters: every parameter may carry a leading chain dimension ``C`` (``(C, ...)``,
one network per chain of a meta-batch), with observations ``(C, B, T)`` or ``(C, B, T, D)``;
the products become batched matrix products (``baddbmm``) and chain ``c``'s outputs are those
of the network with parameters ``[c]`` on observations ``[c]``. Unbatched parameters run the
unbatched operations, so the per-chain path is unchanged.
"""

from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn
from torch.nn import functional as F

from rllib_meta.algorithms.meta_mapg.distributions import CATEGORICAL, ActionDistribution


class _StackSteps(torch.autograd.Function):
    """``torch.stack(steps, -2)`` whose backward is ``unbind``, itself differentiable.
    (Time is the second-to-last dimension: ``(B, T, D)``, or ``(C, B, T, D)`` chain-batched.)

    ``torch.stack``'s backward selects each step's slice of the gradient; differentiating
    through those selects (the outer gradient through an inner gradient taken with
    ``create_graph=True``) builds and zero-fills one full ``(B, T, D)`` tensor per time step,
    a cost quadratic in T (about a quarter of the meta-gradient at H = 150). ``unbind``'s own
    backward is a single ``stack``.
    """

    @staticmethod
    def forward(ctx, *steps: torch.Tensor) -> torch.Tensor:
        return torch.stack(steps, -2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return grad.unbind(-2)


def stack_steps(steps: list[torch.Tensor]) -> torch.Tensor:
    """Per-time-step ``(..., B, D)`` tensors as ``(..., B, T, D)``, cheap to differentiate
    twice."""
    return _StackSteps.apply(*steps)


Params = Mapping[str, torch.Tensor]


def is_state_index(observations: torch.Tensor) -> bool:
    """Integer observations are state indices (the matrix games' one-hot observations)."""
    return not observations.dtype.is_floating_point


def gather_rows(table: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """``table[indices]`` for integer ``indices`` of any shape, as one ``index_select``:
    several times cheaper than advanced indexing for small rows, and so is its backward
    (``index_add``). A chain-batched ``table`` ``(C, S, W)`` with ``indices`` ``(C, ...)``
    gives ``table[c][indices[c]]`` for every chain ``c``."""
    flat_table, flat_indices = _flat_chains(table, indices)
    rows = torch.index_select(flat_table, 0, flat_indices.reshape(-1))
    return rows.reshape(*indices.shape, table.shape[-1])


def gather_steps(table: torch.Tensor, indices: torch.Tensor) -> list[torch.Tensor]:
    """:func:`gather_rows` of every time step (the last dimension of ``indices``), one
    ``index_select`` each. One gather of all steps would build a ``(..., B, T, W)`` tensor
    whose gradient the backward pass stacks from T strided slices: at chain-batched sizes
    (tens of MB) slower than the T small gathers."""
    flat_table, flat_indices = _flat_chains(table, indices)
    shape = (*indices.shape[:-1], table.shape[-1])
    per_step = flat_indices.movedim(-1, 0).reshape(indices.shape[-1], -1)  # (T, N), one copy
    return [torch.index_select(flat_table, 0, step).reshape(shape) for step in per_step]


def _flat_chains(table: torch.Tensor, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(table, indices)`` as one ``(rows, W)`` table and indices into it: a chain-batched
    table ``(C, S, W)`` is flattened and chain ``c``'s indices offset by ``c * S``."""
    indices = indices.long()
    if table.dim() == 3:
        chains, rows, width = table.shape
        offsets = torch.arange(chains, device=indices.device) * rows
        indices = indices + offsets.reshape(chains, *[1] * (indices.dim() - 1))
        table = table.reshape(chains * rows, width)
    return table, indices


def chain_linear(inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``F.linear``; for chain-batched ``weight`` ``(C, out, in)`` and ``bias`` ``(C, out)``,
    one batched product over ``inputs`` ``(C, ..., in)``."""
    if weight.dim() == 2:
        return F.linear(inputs, weight, bias)
    flat = inputs.reshape(inputs.shape[0], -1, inputs.shape[-1])
    outputs = torch.baddbmm(bias.unsqueeze(1), flat, weight.mT)
    return outputs.reshape(*inputs.shape[:-1], weight.shape[-2])


def chains_of(params: Params) -> tuple[int, ...]:
    """The leading chain dimension of parameters (``()`` when unbatched), read from the
    output layer's weight, 2-D per network."""
    weight = params["head.weight"]
    return tuple(weight.shape[:-2])


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
        encoded = F.relu(chain_linear(features, p["encoder.weight"], p["encoder.bias"]))
        bias = p["lstm.bias_ih_l0"] + p["lstm.bias_hh_l0"]
        return chain_linear(encoded, p["lstm.weight_ih_l0"], bias)

    def state_gates(self, params: Params | None = None) -> torch.Tensor:
        """:meth:`_feature_gates` of every one-hot state: ``(S, 4 * hidden)``, the table that
        state-index observations gather from (``(C, S, 4 * hidden)`` chain-batched).
        ``params``: the parameters to use instead of the module's own (functional form)."""
        p = self._params(params)
        one_hot = torch.eye(self.obs_dim, dtype=p["head.weight"].dtype)
        return self._feature_gates(one_hot.expand(*chains_of(p), -1, -1), params)

    def _input_gates_per_step(self, observations: torch.Tensor) -> Iterable[torch.Tensor]:
        """The input contribution at each time step of ``(..., B, T)`` state indices or
        ``(..., B, T, D)`` features. For indices, one gather per step from
        :meth:`state_gates`."""
        if is_state_index(observations):
            return gather_steps(self.state_gates(), observations)
        # unbind, not indexing: the backward of T slices would build T full-size gradients.
        return self._feature_gates(observations, None).unbind(-2)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Outputs for whole trajectories from a zero initial state: ``(..., B, T, out)``."""
        p = self._params(None)
        batch = observations.shape[: -1 if is_state_index(observations) else -2]
        h, c = self.initial_state(batch)
        weight_hh_t = p["lstm.weight_hh_l0"].mT
        outputs = []
        for gates_t in self._input_gates_per_step(observations):
            h, c = self._cell(gates_t, h, c, weight_hh_t)
            outputs.append(h)
        return chain_linear(stack_steps(outputs), p["head.weight"], p["head.bias"])

    def initial_state(self, batch: int | tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero LSTM state for ``batch`` (a size, or a shape such as ``(C, B)``)."""
        shape = (batch,) if isinstance(batch, int) else tuple(batch)
        zeros = self.head.weight.new_zeros(*shape, self.hidden)
        return zeros, zeros.clone()

    def stepper(self, params: Params | None = None) -> Callable:
        """A one-step function ``(observation, state) -> (output, state)`` for sampling, with
        the module's parameters or ``params``; the per-state input gates computed once
        (state-index observations)."""
        params = self._params(params)
        weight_hh_t = params["lstm.weight_hh_l0"].mT
        table = self.state_gates(params)

        def step(observation: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
            if is_state_index(observation):
                gates_x = gather_rows(table, observation)
            else:
                gates_x = self._feature_gates(observation, params)
            h, c = self._cell(gates_x, *state, weight_hh_t)
            return chain_linear(h, params["head.weight"], params["head.bias"]), (h, c)

        return step

    def _cell(
        self, gates_x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, weight_hh_t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # PyTorch's gate order: input, forget, cell, output. chunk (one backward node) rather
        # than slices (one zero-filled full-size gradient each).
        product = torch.addmm if h.dim() == 2 else torch.baddbmm  # per-chain weights: batched
        gate_i, gate_f, gate_g, gate_o = product(gates_x, h, weight_hh_t).chunk(4, -1)
        c = torch.sigmoid(gate_f) * c + torch.sigmoid(gate_i) * torch.tanh(gate_g)
        h = torch.sigmoid(gate_o) * torch.tanh(c)
        return h, c


class TabularPolicy(nn.Module):
    """A memory-one tabular softmax policy: ``logits[state]`` (the matrix games' peers, and a
    meta-agent whose exact values ``envs.matrix.exact`` can compute). Chain-batched logits
    ``(C, S, A)`` with states ``(C, ...)`` give ``logits[c][states[c]]``."""

    distribution = CATEGORICAL

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = nn.Parameter(logits.clone())

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        if self.logits.dim() == 3:
            return gather_rows(self.logits, states)
        return self.logits[states.long()]

    def initial_state(self, batch: int) -> None:
        return None

    def stepper(self, params: Params | None = None) -> Callable:
        logits = self.logits if params is None else params["logits"]
        return lambda states, state: (gather_rows(logits, states), None)
