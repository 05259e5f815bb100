"""MRA's networks for the particle worlds' entity observations (paper 002, Fig. 1, App. E).

One :class:`MRANetworks` per role holds every parameter set of the paper, shared by the role's
agents (section 6.1, role-symmetric games):

* ``psi``: :class:`~.latent.LatentPrior`, ``p_psi(z | m)`` (``latent: learned`` only);
* ``phi``: :class:`RelationNetwork`, the relational graph ``g^i = phi(o^i, z^i)``: attention
  weights ``(..., K)`` from agent ``i``'s self token over its ``K`` other-agent slots;
* ``theta``: :class:`PolicyNetwork`, ``pi(a | o, g)``, which holds ``V`` of Eq. 1 (section 4.2:
  "theta includes the transformation V in Equation 1 and the successive policy network");
* ``zeta``: :class:`CriticNetwork`, the centralised attention critic ``Q(o, a, g)``;
* ``xi``: :class:`GameClassifier`, ``p(x_hat | o, g)`` over the training MGs (Eq. 13);
* the target copies ``theta_bar`` and ``zeta_bar`` (section 6.1), not optimised.

Each set has its own encoders, so the parameter groups are disjoint and each loss reaches
only the sets the Learner lets it: the graph is an input of the policy, the critic and the
classifier, and the Learner detaches it where the paper keeps ``phi`` fixed (Algorithm 4
stores ``g`` in the replay buffer).

Every network reads observations with any leading axes (``(B, N)``: games x agents, all at
once) and respects the masks of :mod:`.attention`. The policy, the critic and the relation
network do not read the game descriptor ``m``: whatever is specific to the game reaches them
through ``g`` (``m`` enters only ``p_psi(z | m)``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from envs.particle import AGENT_FEATURES, LANDMARK_FEATURES
from envs.particle.batched import DESCRIPTOR_WIDTH
from envs.particle.core import NUM_ACTIONS
from rllib_meta.algorithms.mra.attention import (
    Observation,
    attend,
    landmarks_mask,
    masked_softmax,
    others_mask,
    small_matmul,
)
from rllib_meta.algorithms.mra.latent import (
    LATENTS,
    LatentPrior,
    gumbel_softmax_hard,
    uniform_latent,
)
from rllib_meta.algorithms.mra.losses import polyak_update

ARCHITECTURES = ("option", "concat", "bilinear")
AGENT_WIDTH = len(AGENT_FEATURES)
LANDMARK_WIDTH = len(LANDMARK_FEATURES)


@dataclass(frozen=True)
class NetworkSettings:
    """The shape of one role's networks; each bad value is refused naming its key.

    Attributes:
        num_latents: ``|Z|``, the latent's size and the relation network's head count
            (App. E.1: 6).
        latent: ``learned`` (``p_psi(z | m)``), ``uniform`` (uni-MRA) or ``none`` (plain
            attention, the average of the heads' weights).
        architecture: how ``z`` shapes the graph (App. E.3): ``option`` (``z`` selects one of
            ``|Z|`` heads), ``concat`` (``z`` concatenated to every entity token, one head),
            ``bilinear`` (the outer product of every entity token with ``z``, one head).
        hidden_size: width of every hidden layer and embedding.
        key_size: width of each head's queries and keys.
        num_actions: the discrete actions (the particle worlds': 5).
        num_games: ``|M|``, the training MGs the classifier ``xi`` tells apart.
        gumbel_temperature: of the straight-through Gumbel-softmax draw of ``z``.
    """

    num_latents: int = 6
    latent: str = "learned"
    architecture: str = "option"
    hidden_size: int = 64
    key_size: int = 32
    num_actions: int = NUM_ACTIONS
    num_games: int = 1
    gumbel_temperature: float = 1.0

    def __post_init__(self) -> None:
        for key in ("num_latents", "hidden_size", "key_size", "num_actions", "num_games"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an integer >= 1; got {value!r}")
        if self.latent not in LATENTS:
            raise ValueError(f"latent must be one of {list(LATENTS)}; got {self.latent!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {list(ARCHITECTURES)}; got {self.architecture!r}"
            )
        if self.latent == "none" and self.architecture != "option":
            raise ValueError(
                f"architecture {self.architecture!r} conditions the tokens on z, which latent "
                "'none' does not have; use architecture 'option' (plain attention)"
            )
        if not self.gumbel_temperature > 0:
            raise ValueError(f"gumbel_temperature must be > 0; got {self.gumbel_temperature!r}")


def _layer(inputs: int, outputs: int) -> nn.Sequential:
    """``LeakyReLU(W x + b)``. Not in place: on a 3-D or 4-D input ``Linear``'s output is a
    view of a 2-D product, and an in-place activation on it makes autograd copy the whole
    gradient (``CopySlices``), which cost more than the activation's fresh output."""
    return nn.Sequential(nn.Linear(inputs, outputs), nn.LeakyReLU())


def _concat(*tensors: torch.Tensor) -> torch.Tensor:
    """Concatenate along the last axis after broadcasting the leading axes."""
    lead = torch.broadcast_shapes(*(t.shape[:-1] for t in tensors))
    return torch.cat([t.expand(*lead, t.shape[-1]) for t in tensors], dim=-1)


def condition_on_latent(tokens: torch.Tensor, z: torch.Tensor, architecture: str) -> torch.Tensor:
    """Entity tokens ``(..., F)`` with the latent ``z`` ``(..., |Z|)`` (App. E.3's variants):
    ``concat`` -> ``[token, z]`` ``(..., F + |Z|)``; ``bilinear`` -> ``token z^T`` flattened
    ``(..., F |Z|)``; ``option`` leaves the tokens alone (``z`` selects a head instead)."""
    if architecture == "concat":
        return _concat(tokens, z)
    if architecture == "bilinear":
        return (tokens.unsqueeze(-1) * z.unsqueeze(-2)).flatten(-2)
    return tokens


def select_head(head_weights: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
    """The relational graph of the option architecture (section 4.2): ``g = sum_h z_h w_h``.

    ``head_weights`` ``(..., H, K)``; a one-hot ``z`` ``(..., H)`` gives exactly head ``z``'s
    weights (and, straight-through, a gradient to every head's score); ``z`` may carry extra
    leading axes (``n`` resampled latents). ``z = None`` is plain attention: the heads' mean.
    """
    if z is None:
        return head_weights.mean(dim=-2)
    return (z.unsqueeze(-1) * head_weights).sum(dim=-2)


class TokenAttention(nn.Module):
    """Masked scaled dot-product attention weights of ``H`` heads from one query vector over
    tokens: ``w_h = softmax_k(Q_h(x)^T K_h(t_k) / sqrt(d))`` ``(..., H, K)`` (Eq. 1's
    ``g^{i,j}``, one per head; Vaswani et al. 2017).

    ``K_h`` is linear, so ``Q_h(x)^T K_h t_k = (K_h^T Q_h(x))^T t_k``: the query is mapped into
    the token space once per agent and the keys of the ``K`` tokens are never built, which
    saves a ``K``-fold matrix product (a key bias would add the same number to every logit
    of a head, so there is none).
    """

    def __init__(self, query_size: int, token_size: int, num_heads: int, key_size: int):
        super().__init__()
        self.num_heads, self.key_size, self.token_size = num_heads, key_size, token_size
        self.query = nn.Linear(query_size, num_heads * key_size)
        self.key = nn.Linear(token_size, num_heads * key_size, bias=False)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` ``(..., Dq)``, ``tokens`` ``(..., K, Dt)``, ``mask`` ``(..., K)`` ->
        ``(..., H, K)`` (leading axes broadcast)."""
        query = self.query(x).unflatten(-1, (self.num_heads, self.key_size))  # (..., H, d)
        keys = self.key.weight.view(self.num_heads, self.key_size, self.token_size)
        in_token_space = torch.einsum("...hd,hdt->...ht", query, keys)  # (..., H, Dt)
        logits = small_matmul(in_token_space, tokens.transpose(-1, -2))
        return masked_softmax(logits / math.sqrt(self.key_size), mask.unsqueeze(-2))


class EntityEncoder(nn.Module):
    """An agent's own view ``h^i``: its self token and an attention-pooled landmark summary.

    ``h = MLP([f(o_s), sum_l w_l f_L(o_l)])`` with ``w`` the masked attention weights (one
    head) of the self embedding over the landmark embeddings.
    """

    def __init__(self, self_width: int, hidden_size: int, landmark_width: int = LANDMARK_WIDTH):
        super().__init__()
        self.own = _layer(self_width, hidden_size)
        self.landmark = _layer(landmark_width, hidden_size)
        self.pool = TokenAttention(hidden_size, hidden_size, 1, hidden_size)
        self.out = _layer(2 * hidden_size, hidden_size)

    def forward(
        self, own_token: torch.Tensor, landmarks: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """``own_token`` ``(..., F)``, ``landmarks`` ``(..., L, 4)``, ``mask`` ``(..., L)`` ->
        ``(..., hidden)``; ``own_token`` may carry extra leading axes (tokens conditioned on
        several latents)."""
        own = self.own(own_token)
        marks = self.landmark(landmarks)
        weights = self.pool(own, marks, mask)[..., 0, :]
        return self.out(_concat(own, attend(weights, marks)))


class RelationNetwork(nn.Module):
    """``phi(o, z)``: the relational graph ``g^i`` (Eq. 1's ``g^{i,j}``; Fig. 1; App. E.3).

    ``H`` heads of masked scaled dot-product attention (:class:`TokenAttention`) from the
    agent's own view (self token and landmarks) to its other-agent token embeddings:
    ``w_h = softmax_j(Q_h(h^i)^T K_h(f(o_j^i)) / sqrt(d))``. ``option``: ``H = |Z|`` and ``z``
    selects head ``z`` (:func:`select_head`); ``concat`` / ``bilinear``: the tokens are
    conditioned on ``z`` (:func:`condition_on_latent`) and one head gives ``g``.
    """

    def __init__(self, settings: NetworkSettings):
        super().__init__()
        self.architecture = settings.architecture
        num_heads = settings.num_latents if settings.architecture == "option" else 1
        width = condition_on_latent(
            torch.zeros(AGENT_WIDTH), torch.zeros(settings.num_latents), settings.architecture
        ).shape[-1]
        hidden = settings.hidden_size
        self.query_encoder = EntityEncoder(width, hidden)
        self.token = _layer(width, hidden)
        self.attention = TokenAttention(hidden, hidden, num_heads, settings.key_size)

    def head_weights(self, obs: Observation, z: torch.Tensor | None = None) -> torch.Tensor:
        """Every head's attention weights ``(..., H, K)`` (``z`` needed unless ``option``)."""
        own, others = obs["self"], obs["others"]
        if self.architecture != "option":
            if z is None:
                raise ValueError(f"architecture {self.architecture!r} needs a latent z")
            own = condition_on_latent(own, z, self.architecture)
            others = condition_on_latent(others, z.unsqueeze(-2), self.architecture)
        view = self.query_encoder(own, obs["landmarks"], landmarks_mask(obs))
        return self.attention(view, self.token(others), others_mask(obs))

    def forward(self, obs: Observation, z: torch.Tensor | None = None) -> torch.Tensor:
        """``g`` ``(..., K)``: a distribution over the unmasked other agents (zeros if none).

        ``z`` ``(..., |Z|)`` one-hot (or ``None`` for plain attention); it may carry extra
        leading axes, e.g. ``(n, B, N, |Z|)`` for ``n`` resampled latents, and ``g`` has them.
        """
        if self.architecture == "option":
            return select_head(self.head_weights(obs), z)
        return self.head_weights(obs, z)[..., 0, :]


class PolicyFeatures(NamedTuple):
    """What a graph reader computes from ``o`` alone, reused for every graph: ``own``
    ``(..., hidden)`` and the other agents' token embeddings ``f(o_j)`` ``(..., K, hidden)``."""

    own: torch.Tensor
    tokens: torch.Tensor


class _GraphReader(nn.Module):
    """``head([h(o), e])`` with ``e = sum_j g_j V(f(o_j)) = V(sum_j g_j f(o_j))`` (``V``
    linear, as in Eq. 1): the policy's and the classifier's shape (section 4.2)."""

    def __init__(self, settings: NetworkSettings, num_outputs: int):
        super().__init__()
        hidden = settings.hidden_size
        self.encoder = EntityEncoder(AGENT_WIDTH, hidden)
        self.token = _layer(AGENT_WIDTH, hidden)
        self.value = nn.Linear(hidden, hidden, bias=False)
        self.head = nn.Sequential(_layer(2 * hidden, hidden), nn.Linear(hidden, num_outputs))

    def features(self, obs: Observation) -> PolicyFeatures:
        own = self.encoder(obs["self"], obs["landmarks"], landmarks_mask(obs))
        return PolicyFeatures(own, self.token(obs["others"]))

    def read(self, features: PolicyFeatures, graph: torch.Tensor) -> torch.Tensor:
        """Outputs for ``graph`` ``(..., K)`` (extra leading axes broadcast)."""
        summary = self.value(attend(graph, features.tokens))
        return self.head(_concat(features.own, summary))

    def forward(self, obs: Observation, graph: torch.Tensor) -> torch.Tensor:
        return self.read(self.features(obs), graph)


class PolicyNetwork(_GraphReader):
    """``pi(a | o, g; theta)``: action logits ``(..., A)`` from the agent's own view and the
    graph-weighted values of the other agents, ``e^i = sum_j g^{i,j} V(o_j^i)`` (Eq. 1)."""

    def __init__(self, settings: NetworkSettings):
        super().__init__(settings, settings.num_actions)


class GameClassifier(_GraphReader):
    """``xi``: logits ``(..., |M|)`` of ``p(x_hat | o, g)``, which training MG the agent is in
    (Eq. 13). It reads the same entities as the policy, not the game descriptor (which would
    name the game without looking at ``g``)."""

    def __init__(self, settings: NetworkSettings):
        super().__init__(settings, settings.num_games)


class CriticNetwork(nn.Module):
    """The centralised attention critic ``Q(o, a, g; zeta)`` (section 6.1; App. E.1: "a
    self-attention network in a similar way with MAAC"; Fig. 1: the same ``g`` as the policy).

    For agent ``i``: ``Q^i(o, (., a^{-i})) = head([c(o^i), V(sum_j g^{i,j} f(o_j^i, a^j))])``,
    the Q value of every own action ``a^i`` ``(..., A)`` given the other agents' actions, as
    MAAC's critic outputs for discrete SAC. The attention weights are the graph ``g^i``
    itself. The particle worlds are fully observed (every ``o^i`` holds every agent's and
    landmark's state), so agent ``j``'s token in ``o^i`` stands for ``o^j``.
    """

    def __init__(self, settings: NetworkSettings):
        super().__init__()
        hidden = settings.hidden_size
        self.num_actions = settings.num_actions
        self.encoder = EntityEncoder(AGENT_WIDTH, hidden)
        self.token = _layer(AGENT_WIDTH + settings.num_actions, hidden)
        self.value = nn.Linear(hidden, hidden, bias=False)
        self.head = nn.Sequential(_layer(2 * hidden, hidden), nn.Linear(hidden, self.num_actions))

    def forward(
        self, obs: Observation, others_actions: torch.Tensor, graph: torch.Tensor
    ) -> torch.Tensor:
        """Q values ``(..., A)`` of the agent's actions.

        Args:
            obs: the agent's observation (leading axes ``(...)``).
            others_actions: the other agents' actions by slot, ``(..., K)`` integers (see
                :func:`~.attention.gather_others`) or ``(..., K, A)`` one-hot / probabilities.
            graph: ``g`` ``(..., K)``.
        """
        if not others_actions.is_floating_point():
            others_actions = F.one_hot(others_actions, self.num_actions)
        others_actions = others_actions.to(obs["others"].dtype)
        own = self.encoder(obs["self"], obs["landmarks"], landmarks_mask(obs))
        tokens = self.token(torch.cat([obs["others"], others_actions], dim=-1))
        return self.head(_concat(own, self.value(attend(graph, tokens))))


class MRANetworks(nn.Module):
    """One role's networks and targets (see the module docstring); what an RLModule holds per
    role and what the Learner's losses read."""

    def __init__(self, settings: NetworkSettings):
        super().__init__()
        self.settings = settings
        self.prior = (
            LatentPrior(DESCRIPTOR_WIDTH, settings.num_latents)
            if settings.latent == "learned"
            else None
        )
        self.relation = RelationNetwork(settings)
        self.policy = PolicyNetwork(settings)
        self.critic = CriticNetwork(settings)
        self.classifier = GameClassifier(settings)
        self.target_policy = copy.deepcopy(self.policy).requires_grad_(False)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The paper's parameter sets by name: ``policy`` (theta), ``critic`` (zeta),
        ``relation`` (phi), ``prior`` (psi; empty unless ``latent: learned``), ``classifier``
        (xi). Disjoint; the targets are in none of them."""
        return {
            "policy": list(self.policy.parameters()),
            "critic": list(self.critic.parameters()),
            "relation": list(self.relation.parameters()),
            "prior": [] if self.prior is None else list(self.prior.parameters()),
            "classifier": list(self.classifier.parameters()),
        }

    def sample_latent(
        self, game: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor | None:
        """One-hot ``z`` ``(..., |Z|)`` for agents in the games described by ``game``
        ``(..., D)`` (Algorithm 4: drawn per agent at the start of an episode): hard
        Gumbel-softmax from ``p_psi(z | m)`` (``learned``, differentiable in ``psi``),
        uniform (``uniform``), or ``None`` (``none``)."""
        latent = self.settings.latent
        if latent == "none":
            return None
        if latent == "uniform":
            return uniform_latent(
                tuple(game.shape[:-1]), self.settings.num_latents, generator, game.dtype
            ).to(game.device)
        return gumbel_softmax_hard(self.prior(game), self.settings.gumbel_temperature, generator)

    def forward(
        self, obs: Observation, z: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Acting (Algorithm 4): ``g = phi(o, z)`` and the policy's logits ``(..., A)``;
        returns ``(logits, g)``."""
        graph = self.relation(obs, z)
        return self.policy(obs, graph), graph

    @torch.no_grad()
    def update_targets(self, tau: float) -> None:
        """``theta_bar``, ``zeta_bar`` <- Polyak step towards ``theta``, ``zeta`` (section 6.1)."""
        polyak_update(self.target_policy.parameters(), self.policy.parameters(), tau)
        polyak_update(self.target_critic.parameters(), self.critic.parameters(), tau)
