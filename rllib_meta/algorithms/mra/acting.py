"""MRA's acting forward, fused for the EnvRunner (paper 002, Algorithm 4's rollout: ``g^i =
phi(o^i, z^i)``, ``a^i ~ pi(a | o^i, g^i)``).

:func:`acting_logits` computes exactly what ``MRANetworks.forward`` returns as logits (equal
to float rounding; ``tests/algorithms/mra/test_acting.py`` checks it against that path), for
inference only, at a fraction of its cost on the EnvRunner's ``(1024 games x 12 agents)``
batches:

* the layers of the relation network ``phi`` and of the policy ``theta`` that read the same
  inputs (self token, landmark tokens, other-agent tokens) run as one matrix product each,
  their weights stacked;
* linear maps applied one after the other are multiplied out once per call: an attention's
  ``K^T Q / sqrt(d)`` (:class:`~.networks.TokenAttention` computes ``Q x`` and then ``K^T``
  of it for every agent), and the policy head's first layer with ``V``;
* with a known one-hot ``z`` (the option architecture), only head ``z``'s query is computed,
  the agents grouped by head, and one softmax per agent instead of ``|Z|``
  (``select_head`` would keep only that head's weights anyway);
* the per-pair and per-landmark tensors (``B N K x 2 hidden``: 69 MB at 1024 x 12 x 11 x 64
  float32, past the caches, and page-faulted in afresh by every allocation) are built in
  chunks of agents that stay in the core's cache.

The architectures that condition the tokens on ``z`` (``concat``, ``bilinear``) and a ``z``
that is not one-hot (a straight-through sample carrying gradient is one-hot in value, but the
fused path has no gradient) take ``MRANetworks.forward`` itself.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch.nn import functional as F

from rllib_meta.algorithms.mra.attention import ACTIVE, Observation
from rllib_meta.algorithms.mra.networks import EntityEncoder, MRANetworks, TokenAttention

# Agents per chunk of the per-pair stage: 256 x 11 x 128 float32 is 1.4 MB, within a core's
# L2 (2 MB here); the Python cost of one chunk (about 15 small ops) stays below its compute.
CHUNK_AGENTS = 256
NEGATIVE_SLOPE = 0.01  # nn.LeakyReLU's default, as the networks' layers use it
_READ = ("self", "others", "others_mask", "landmarks", "landmarks_mask")


class FusedWeights(NamedTuple):
    """The relation network's and the policy's weights rearranged for :func:`acting_logits`:
    ``(W, b)`` pairs of stacked layers (rows ``[phi; theta]``) and the products of linear
    maps the networks apply in sequence."""

    own: tuple[torch.Tensor, torch.Tensor]  # (2 hidden, F), self token -> [phi; theta]
    landmark: tuple[torch.Tensor, torch.Tensor]  # (2 hidden, 4)
    pool: tuple[torch.Tensor, torch.Tensor]  # (2, hidden, hidden), (2, hidden): K^T Q / sqrt d
    out: tuple[torch.Tensor, torch.Tensor]  # (2, hidden, 2 hidden), (2, hidden)
    heads: tuple[torch.Tensor, torch.Tensor]  # (H, hidden, hidden), (H, hidden): K_h^T Q_h / sqrt d
    token: tuple[torch.Tensor, torch.Tensor]  # (2 hidden, F)
    policy_own: torch.Tensor  # (hidden, hidden): the head's first layer on the own view
    policy_summary: torch.Tensor  # (hidden, hidden): the same layer on sum_j g_j f(o_j), times V
    policy_bias: torch.Tensor  # (hidden,)
    policy_out: tuple[torch.Tensor, torch.Tensor]  # (A, hidden), (A,)


def _stack(*layers: torch.nn.Sequential) -> tuple[torch.Tensor, torch.Tensor]:
    """``(W, b)`` of ``_layer`` blocks (``Linear`` + LeakyReLU) stacked along the outputs."""
    return (
        torch.cat([layer[0].weight for layer in layers]),
        torch.cat([layer[0].bias for layer in layers]),
    )


def _query_in_token_space(attention: TokenAttention) -> tuple[torch.Tensor, torch.Tensor]:
    """Per head ``h``: ``M_h = K_h^T Q_h / sqrt(d)`` ``(H, Dt, Dq)`` and ``c_h = K_h^T b_h /
    sqrt(d)`` ``(H, Dt)``, so that head ``h``'s logit of token ``t`` is ``(M_h x + c_h)^T t``."""
    heads, size = attention.num_heads, attention.key_size
    keys = attention.key.weight.view(heads, size, attention.token_size)  # (H, d, Dt)
    query = attention.query.weight.view(heads, size, -1)  # (H, d, Dq)
    bias = attention.query.bias.view(heads, size, 1)
    scale = 1.0 / math.sqrt(size)
    matrix = torch.matmul(keys.transpose(1, 2), query) * scale
    offset = torch.matmul(keys.transpose(1, 2), bias).squeeze(-1) * scale
    return matrix, offset


def _pool_pair(first: EntityEncoder, second: EntityEncoder) -> tuple[torch.Tensor, torch.Tensor]:
    pools = [_query_in_token_space(encoder.pool) for encoder in (first, second)]
    return torch.cat([m for m, _ in pools]), torch.cat([c for _, c in pools])


def fuse(nets: MRANetworks) -> FusedWeights:
    """The weights of ``nets.relation`` (option architecture) and ``nets.policy``, fused."""
    relation, policy = nets.relation, nets.policy
    query, encoder = relation.query_encoder, policy.encoder
    hidden = policy.value.weight.shape[0]
    first = policy.head[0][0]  # Linear(2 hidden, hidden) on [own, V summary]
    return FusedWeights(
        own=_stack(query.own, encoder.own),
        landmark=_stack(query.landmark, encoder.landmark),
        pool=_pool_pair(query, encoder),
        out=(
            torch.stack([query.out[0].weight, encoder.out[0].weight]),
            torch.stack([query.out[0].bias, encoder.out[0].bias]),
        ),
        heads=_query_in_token_space(relation.attention),
        token=_stack(relation.token, policy.token),
        policy_own=first.weight[:, :hidden],
        policy_summary=first.weight[:, hidden:] @ policy.value.weight,
        policy_bias=first.bias,
        policy_out=(policy.head[1].weight, policy.head[1].bias),
    )


def _masked_softmax_(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``attention.masked_softmax`` over the last axis, in place on ``logits``: masked entries
    0, a row without an unmasked entry all 0."""
    logits.masked_fill_(~mask, float("-inf"))
    logits.sub_(logits.amax(-1, keepdim=True).clamp_min(torch.finfo(logits.dtype).min))
    logits.exp_()
    return logits.div_(logits.sum(-1, keepdim=True).clamp_min(torch.finfo(logits.dtype).tiny))


def _leaky_(values: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu_(values, NEGATIVE_SLOPE)


def _views(weights: FusedWeights, obs: dict[str, torch.Tensor], hidden: int) -> torch.Tensor:
    """``EntityEncoder`` of ``phi``'s query and of ``theta`` on agents ``(R, ...)``: ``(2, R,
    hidden)``. Every product is a (batched) matrix product on strided slices of the stacked
    layers' outputs: broadcast elementwise products on these shapes cost several times more."""
    own = _leaky_(F.linear(obs["self"], *weights.own))  # (R, 2 hidden)
    marks = _leaky_(F.linear(obs["landmarks"], *weights.landmark))  # (R, L, 2 hidden)
    (pool, pool_offset), (out, out_offset) = weights.pool, weights.out
    views = own.new_empty(2, own.shape[0], hidden)
    for e, part in enumerate((slice(0, hidden), slice(hidden, 2 * hidden))):
        own_e, marks_e = own[:, part], marks[..., part]
        query = torch.addmm(pool_offset[e], own_e, pool[e].T)  # (R, hidden), token space
        logits = torch.bmm(marks_e, query.unsqueeze(-1)).transpose(1, 2)  # (R, 1, L)
        weights_e = _masked_softmax_(logits, obs["landmarks_mask"])
        # sum_l w_l f(o_l) as a broadcast product: a (1 x L) @ (L x hidden) bmm per agent
        # runs about 4x slower at L = 6.
        pooled = (weights_e.transpose(1, 2) * marks_e).sum(1)  # (R, hidden)
        view = torch.addmm(out_offset[e], own_e, out[e][:, :hidden].T, out=views[e])
        view.addmm_(pooled, out[e][:, hidden:].T)
    return _leaky_(views)


def _selected_queries(
    weights: FusedWeights, view: torch.Tensor, head: torch.Tensor | None
) -> torch.Tensor:
    """Head ``head[r]``'s query of agent ``r`` in token space ``(R, 1, hidden)``, agents grouped
    by head; every head's ``(R, H, hidden)`` for plain attention (``head`` None)."""
    matrix, offset = weights.heads
    if head is None:
        return torch.einsum("htq,rq->rht", matrix, view) + offset
    queries = torch.empty_like(view)
    order = torch.argsort(head, stable=True)
    start = 0
    for h, count in enumerate(torch.bincount(head, minlength=len(matrix)).tolist()):
        rows = order[start : start + count]
        start += count
        if count:
            selected = torch.addmm(offset[h], view.index_select(0, rows), matrix[h].T)
            queries.index_copy_(0, rows, selected)
    return queries.unsqueeze(1)


def _summaries(
    weights: FusedWeights, obs: dict[str, torch.Tensor], queries: torch.Tensor, hidden: int
) -> torch.Tensor:
    """``g = softmax_j(q^T f_phi(o_j))`` (the heads' mean for plain attention) and ``sum_j g_j
    f_theta(o_j)`` of agents ``(R, ...)``: ``(R, hidden)``; ``obs["attend"]`` ``(R, 1, K)`` is
    the mask of the other agents attended to."""
    tokens = _leaky_(F.linear(obs["others"], *weights.token))  # (R, K, 2 hidden)
    relation, policy = tokens[..., :hidden], tokens[..., hidden:]
    logits = torch.matmul(queries, relation.transpose(1, 2))  # (R, 1 or H, K)
    graph = _masked_softmax_(logits, obs["attend"])
    if graph.shape[1] > 1:  # plain attention: the heads' mean
        graph = graph.mean(1, keepdim=True)
    return torch.matmul(graph, policy).squeeze(1)


def _head_index(z: torch.Tensor | None) -> torch.Tensor | None:
    """``z``'s index where ``z`` is exactly one-hot (as every sampled latent is); raises
    otherwise (the caller then takes the generic path)."""
    if z is None:
        return None
    head = z.argmax(-1)
    if z.requires_grad or not torch.equal(F.one_hot(head, z.shape[-1]).to(z.dtype), z):
        raise _NotFusable
    return head.flatten()


class _NotFusable(Exception):
    pass


def acting_logits(
    nets: MRANetworks, obs: Observation, z: torch.Tensor | None, chunk: int = CHUNK_AGENTS
) -> torch.Tensor:
    """The policy's logits ``(..., A)`` at ``g = phi(o, z)``, i.e. ``nets(obs, z)[0]``, without
    gradient (see the module docstring). ``obs`` ``(..., ...)`` and ``z`` ``(..., |Z|)``
    one-hot or ``None`` share their leading axes."""
    if nets.settings.architecture != "option":
        with torch.inference_mode():
            return nets(obs, z)[0]
    lead = obs["self"].shape[:-1]
    try:
        head = _head_index(z)
    except _NotFusable:
        with torch.inference_mode():
            return nets(obs, z)[0]
    with torch.inference_mode():
        flat = {key: obs[key].reshape(-1, *obs[key].shape[len(lead) :]) for key in _READ}
        flat["landmarks_mask"] = (flat["landmarks_mask"] > 0).unsqueeze(1)
        flat["attend"] = ((flat.pop("others_mask") > 0) & (flat["others"][..., ACTIVE] > 0))[
            :, None
        ]
        weights = fuse(nets)
        hidden = weights.policy_own.shape[0]
        count = flat["self"].shape[0]
        chunks = [
            ({k: v[start : start + chunk] for k, v in flat.items()}, slice(start, start + chunk))
            for start in range(0, count, chunk)
        ]
        # (2, R, hidden): phi's query view, theta's own view
        views = torch.cat([_views(weights, part, hidden) for part, _ in chunks], 1)
        queries = _selected_queries(weights, views[0], head)
        summaries = torch.cat(
            [_summaries(weights, part, queries[rows], hidden) for part, rows in chunks]
        )
        hidden_layer = torch.addmm(weights.policy_bias, views[1], weights.policy_own.T)
        hidden_layer.addmm_(summaries, weights.policy_summary.T)
        logits = F.linear(_leaky_(hidden_layer), *weights.policy_out)
    return logits.view(*lead, -1)
