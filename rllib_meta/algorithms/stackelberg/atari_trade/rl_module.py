"""``StackelbergAtariTradeModule``: both ships' shooting policies and the two trade tables of
the Atari bilateral trade (paper 003 section 4) in one RLlib ``TorchRLModule``.

* ``ships["seller"]``, ``ships["buyer"]``: the ship heads (6 actions), each with its value
  head, on the env's observation (RAM / 255 plus the trade features: an MLP of
  ``gameplay_hiddens``, the RAM read as bytes or, with ``gameplay_ram_encoding: bits``, as its
  1024 bits; frame stacks: the Nature DQN convolutions, then that MLP). Learned in
  phase 0, frozen afterwards.
* ``leader``: the leader's trade table, bias-free and linear on one-hot queries like the
  matrix games' (paper 003 App. C): ``(queries, answers)`` logits, the seller's ``1 x 6``
  (keep or offer at one of the 5 prices), the buyer's ``5 x 2`` (reject / accept per price).
* ``follower``: the follower's contextual trade table, ``(contexts, actions)`` logits: the buyer
  follower's ``6 x 2`` (accept given the seller's action), the seller follower's ``32 x 6``
  (its action given the buyer's 5 accept answers). As in the matrix module a one-hot of the
  context is the input, so a linear model can best-respond to every leader.
"""

from __future__ import annotations

import gymnasium as gym
import torch
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

from envs.atari.space_invaders import NUM_SHIP_ACTIONS
from rllib_meta.algorithms.stackelberg.atari_trade.trade_game import ROLE_SHAPES

ROLES = ("seller", "buyer")


RAM_ENCODINGS = ("bytes", "bits")
RAM_BYTES = 128  # the RAM observation's first entries (each byte / 255), then the trade vector


def ram_bits(observations: torch.Tensor) -> torch.Tensor:
    """RAM observations ``(B, 128 + k)`` (bytes / 255, then ``k`` trade features) as
    ``(B, 1024 + k)``: each byte's 8 bits (most significant first), then the trade features.
    Why: the game keeps the invaders' alive flags as bits and positions as bytes, which a
    network reads far better bit by bit (measured: experiments/atari_trade_shooting.py)."""
    ram = torch.round(observations[:, :RAM_BYTES] * 255).to(torch.int64)
    shifts = torch.arange(7, -1, -1, device=observations.device)
    bits = ((ram.unsqueeze(-1) >> shifts) & 1).flatten(1).to(observations.dtype)
    return torch.cat([bits, observations[:, RAM_BYTES:]], dim=1)


class ShipNetwork(torch.nn.Module):
    """Policy logits and a value for one ship, from one observation batch."""

    def __init__(
        self, observation_space: gym.Space, hiddens: list[int], ram_encoding: str = "bytes"
    ) -> None:
        super().__init__()
        shape = tuple(observation_space.shape)
        layers: list[torch.nn.Module] = []
        self.ram_bits = ram_encoding == "bits"
        if self.ram_bits and len(shape) != 1:
            raise ValueError(
                f"gameplay_ram_encoding='bits' needs RAM observations (obs_type='ram'), got "
                f"observations of shape {shape}."
            )
        if len(shape) == 3:  # (H, W, C) frames: Mnih et al. 2015's convolutions
            self.channels_last = True
            layers += [
                torch.nn.Conv2d(shape[-1], 32, 8, stride=4),
                torch.nn.ReLU(),
                torch.nn.Conv2d(32, 64, 4, stride=2),
                torch.nn.ReLU(),
                torch.nn.Conv2d(64, 64, 3, stride=1),
                torch.nn.ReLU(),
                torch.nn.Flatten(),
            ]
            with torch.no_grad():
                width = torch.nn.Sequential(*layers)(torch.zeros(1, shape[-1], *shape[:2])).shape[1]
        else:
            self.channels_last = False
            width = shape[0] + (7 * RAM_BYTES if self.ram_bits else 0)
        for size in hiddens:
            layers += [torch.nn.Linear(width, size), torch.nn.Tanh()]
            width = size
        self.torso = torch.nn.Sequential(*layers)
        self.policy = torch.nn.Linear(width, NUM_SHIP_ACTIONS)
        self.value = torch.nn.Linear(width, 1)

    def forward(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.channels_last:
            observations = observations.permute(0, 3, 1, 2)
        elif self.ram_bits:
            observations = ram_bits(observations)
        features = self.torso(observations)
        return self.policy(features), self.value(features).squeeze(-1)


class StackelbergAtariTradeModule(TorchRLModule):
    """The ship networks and the trade tables (see the module docstring); ``model_config``
    carries ``leader``, ``gameplay_hiddens`` and ``gameplay_ram_encoding``. Read by the
    EnvRunner and Learner directly."""

    def setup(self):
        config = self.model_config
        self.leader_role = config["leader"]
        shapes = ROLE_SHAPES[self.leader_role]
        self.ships = torch.nn.ModuleDict(
            {
                role: ShipNetwork(
                    self.observation_space,
                    list(config["gameplay_hiddens"]),
                    config.get("gameplay_ram_encoding", "bytes"),
                )
                for role in ROLES
            }
        )
        # Row q of leader.weight.T: the logits of the answers to query q.
        self.leader = torch.nn.Linear(shapes.queries, shapes.answers, bias=False)
        self.follower = torch.nn.Linear(shapes.contexts, shapes.follower_actions, bias=False)

    def _forward(self, batch, **kwargs):
        raise NotImplementedError(
            "StackelbergAtariTradeModule is read by its EnvRunner and Learner, not by RLlib's "
            "generic sampling path."
        )

    # -- ships ----------------------------------------------------------------------------

    def ship_outputs(
        self, role: str, observations: torch.Tensor, masks: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked ship logits (invalid FIRE actions at -inf) and values of ``role``'s ship."""
        logits, values = self.ships[role](observations)
        return logits.masked_fill(masks == 0, float("-inf")), values

    # -- leader (the StackelbergModule interface) -----------------------------------------

    def leader_scores(self) -> torch.Tensor:
        """``(queries, answers)``: the leader's logits per query."""
        return self.leader.weight.T

    def leader_log_probs(self, answers: torch.Tensor) -> torch.Tensor:
        """``log pi_L(omega)`` of answer tables ``(B, queries)``: the sum over the queries
        (answered independently)."""
        log_pi = torch.log_softmax(self.leader_scores(), dim=-1)
        return log_pi.gather(-1, answers.T).T.sum(dim=-1)

    def leader_greedy(self) -> torch.Tensor:
        """The leader's greedy answers, ``(queries,)`` long (ties: the lowest answer)."""
        return self.leader_scores().argmax(dim=-1)

    # -- follower -------------------------------------------------------------------------

    def follower_logits(self, contexts: torch.Tensor) -> torch.Tensor:
        """``(..., follower_actions)`` for contexts given as indices."""
        return self.follower.weight.T[contexts]

    def follower_greedy_table(self) -> torch.Tensor:
        """``(contexts,)`` long: the follower's greedy action against every deterministic
        leader."""
        return self.follower.weight.T.argmax(dim=-1)
