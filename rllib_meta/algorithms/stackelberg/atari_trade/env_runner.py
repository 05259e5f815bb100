"""``StackelbergAtariTradeEnvRunner``: the real-env episodes of phase 0 and of the checks, and
the per-bullet trade episodes of phases 1-3 (paper 003 section 4; Algorithm 1).

Real episodes (:meth:`play_episode`): both ships sample from their (masked) ship heads on the
shared observation; the trade head is a :class:`TradeRule`:

* :class:`GameplayTrade` (phase 0 and the value measurement): the seller offers a free bullet
  at price 0 with probability ``gameplay_offer_probability`` each step, the buyer accepts every
  offer, so both ships hold bullets and no price enters a reward;
* :class:`TablesTrade` (``rllib evaluate``'s check of the learned pair): the seller offers each
  bullet once, by its trade table's action, and fires it if the buyer rejects (the per-bullet
  game's "kept"); the buyer answers a pending offer by its table's answer for that price.

Trade episodes (:meth:`sample` in phases 1-3), one bullet each, on the measured per-bullet
values (:mod:`.trade_game`). Every episode starts with the context query, the leader's answers
(``omega``), and the leader then plays by them; where the answers come from is the matrix
games' rule (:mod:`rllib_meta.algorithms.stackelberg.env_runner`): a uniformly random
deterministic leader (pre-training), draws from the leader's policy against the greedy frozen
follower (leader training), the leader's greedy answers (verification).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.env import INPUT_ENV_SPACES

from envs.atari.trade import BUYER, SELLER
from rllib_meta.algorithms.base.env_runner import SamplingEnvRunner
from rllib_meta.algorithms.stackelberg.atari_trade.rl_module import ROLES
from rllib_meta.algorithms.stackelberg.atari_trade.trade_game import (
    KEEP,
    ROLE_SHAPES,
    context_of,
    follower_decides,
    leader_policies,
    outcome_table,
    price_table,
)
from rllib_meta.algorithms.stackelberg.env_runner import LEADER_TRAINING, PRETRAINING

GAMEPLAY = "gameplay"
AGENT_OF = {"seller": SELLER, "buyer": BUYER}
OFFER_AT_ZERO = 1  # the seller's trade action offering at PRICES[0] = 0
EPISODES_PLAYED = "episodes_played"
EPISODE_SEED_STRIDE = 1_000_003  # a prime step between the seeds of consecutive episodes
EPISODE_SEED_BASE = "episode_seed_base"


class TradeRule:
    """The trade head of both players in a real episode."""

    def reset(self) -> None:
        """A new episode starts."""

    def actions(self, infos: dict[str, dict]) -> tuple[int, int]:
        """The seller's and the buyer's trade actions, given the last step's infos."""
        raise NotImplementedError

    def observe(self, infos: dict[str, dict]) -> None:
        """The infos after a step."""


class GameplayTrade(TradeRule):
    """Phase 0's fixed trade head (see the module docstring)."""

    def __init__(self, offer_probability: float, generator: torch.Generator) -> None:
        self.offer_probability = offer_probability
        self.generator = generator

    def actions(self, infos):
        can_offer = bool(infos[SELLER]["action_mask"][1][OFFER_AT_ZERO])
        draw = float(torch.rand((), generator=self.generator))
        return (OFFER_AT_ZERO if can_offer and draw < self.offer_probability else KEEP), 1


class TablesTrade(TradeRule):
    """A deterministic pair of trade policies in the real env: the seller's action
    (0 keep, ``k`` offer at ``PRICES[k - 1]``) for each bullet, offered once, and the buyer's
    accept answers per price (see the module docstring)."""

    def __init__(self, seller_action: int, buyer_accepts: list[int]) -> None:
        self.seller_action = int(seller_action)
        self.buyer_accepts = [int(a) for a in buyer_accepts]
        self.reset()

    def reset(self) -> None:
        self.rejected_held = 0  # rejected bullets the seller still holds: never offered again
        self.pending = False

    def actions(self, infos):
        seller, buyer = infos[SELLER], infos[BUYER]
        free = seller["bullets"] - (seller["offer"] >= 0)
        offer = self.seller_action if free - self.rejected_held > 0 else KEEP
        pending = buyer["offer"]
        accept = self.buyer_accepts[pending] if pending >= 0 else 0
        self.pending = pending >= 0
        return offer, accept

    def observe(self, infos):
        if self.pending and not infos[SELLER]["traded"]:
            self.rejected_held += 1
        self.rejected_held = max(0, self.rejected_held - infos[SELLER]["shots"])


@dataclass
class EpisodeTotals:
    """What one or more real episodes add up to, per role (seller, buyer)."""

    returns: list[float] = field(default_factory=lambda: [0.0, 0.0])
    kill_rewards: list[float] = field(default_factory=lambda: [0.0, 0.0])
    shots: list[int] = field(default_factory=lambda: [0, 0])
    kills: list[int] = field(default_factory=lambda: [0, 0])
    trades: int = 0
    price_sum: float = 0.0
    episodes: int = 0
    env_steps: int = 0

    def add(self, other: EpisodeTotals) -> None:
        for name in ("returns", "kill_rewards", "shots", "kills"):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, [a + b for a, b in zip(mine, theirs, strict=True)])
        self.trades += other.trades
        self.price_sum += other.price_sum
        self.episodes += other.episodes
        self.env_steps += other.env_steps


class StackelbergAtariTradeEnvRunner(SamplingEnvRunner):
    """Samples phase 0's real episodes and phases 1-3's trade episodes (module docstring)."""

    RANDOM_GENERATORS = ("generator",)

    def __init__(self, *, config, **kwargs):
        super().__init__(config=config, **kwargs)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.leader = config.leader
        self.shapes = ROLE_SHAPES[self.leader]
        self.kill_rewards = self.env.kill_rewards
        # The next episode's seed is episode_seed_base + a stride per episode played: both
        # are the share's state, so a share re-dispatched from a failed runner plays the
        # games its home runner would have played.
        self.episode_seed_base = self.seed
        self.episodes_played = 0
        self._prices = price_table(self.leader)
        self._outcomes: dict[tuple[float, float], torch.Tensor] = {}

    def episode_seed(self) -> int:
        """Every real episode is seeded (emulator and bullet arrivals) from the share's seed
        and the episodes it played, so a restored checkpoint replays the same games."""
        return int((self.episode_seed_base + EPISODE_SEED_STRIDE * self.episodes_played) % 2**31)

    def sampler_state(self) -> dict[str, Any]:
        return {EPISODES_PLAYED: self.episodes_played, EPISODE_SEED_BASE: self.episode_seed_base}

    def load_sampler_state(self, state: dict[str, Any]) -> None:
        self.episodes_played = int(state.get(EPISODES_PLAYED, self.episodes_played))
        self.episode_seed_base = int(state.get(EPISODE_SEED_BASE, self.episode_seed_base))

    def get_spaces(self):
        spaces = (self.env.observation_space(SELLER), self.env.action_space(SELLER))
        return {INPUT_ENV_SPACES: spaces, DEFAULT_MODULE_ID: spaces}

    def _share(self, total: int) -> int:
        """The part of ``total`` episodes of the share being sampled (right for a share
        re-dispatched from a failed runner too)."""
        return self.share.of(total)

    # -- RLlib sampling entry point --------------------------------------------------------

    @torch.no_grad()
    def sample(
        self, *, phase: str, bullet_values: tuple[float, float] | None = None, **kwargs
    ) -> dict[str, np.ndarray]:
        """This runner's share of one iteration's episodes of ``phase``."""
        if phase == GAMEPLAY:
            return self._gameplay_batch(self._share(self.config.gameplay_episodes_per_iteration))
        if bullet_values is None:
            raise ValueError(f"phase {phase!r} plays on the per-bullet values: none were given")
        return self._trade_batch(phase, tuple(float(v) for v in bullet_values))

    # -- real episodes ---------------------------------------------------------------------

    def gameplay_rule(self) -> GameplayTrade:
        return GameplayTrade(self.config.gameplay_offer_probability, self.generator)

    def play_episode(self, rule: TradeRule, record: dict[str, list] | None = None) -> EpisodeTotals:
        """One real episode with the ship heads sampling and ``rule`` trading; with ``record``
        the steps of both ships are appended to its lists (observations, masks, actions,
        log-probabilities, values, kill rewards)."""
        env, module = self.env, self.module
        observations, infos = env.reset(seed=self.episode_seed())
        self.episodes_played += 1
        rule.reset()
        totals = EpisodeTotals(episodes=1)
        while env.agents:
            observation = torch.from_numpy(observations[SELLER]).unsqueeze(0)
            ship_actions, log_probs, values, masks = [], [], [], []
            for role in ROLES:
                mask = infos[AGENT_OF[role]]["action_mask"][0]
                logits, value = module.ship_outputs(
                    role, observation, torch.tensor(mask).unsqueeze(0)
                )
                log_pi = torch.log_softmax(logits[0], dim=-1)
                action = int(torch.multinomial(log_pi.exp(), 1, generator=self.generator))
                ship_actions.append(action)
                log_probs.append(float(log_pi[action]))
                values.append(float(value[0]))
                masks.append(mask)
            trade = rule.actions(infos)
            actions = {AGENT_OF[r]: (ship_actions[i], trade[i]) for i, r in enumerate(ROLES)}
            next_observations, rewards, _, _, infos = env.step(actions)
            rule.observe(infos)
            kill_rewards = [
                self.kill_rewards[i] * infos[AGENT_OF[r]]["kills"] for i, r in enumerate(ROLES)
            ]
            if record is not None:
                record["observations"].append(_compact(observations[SELLER]))
                record["masks"].append(np.stack(masks))
                record["actions"].append(ship_actions)
                record["log_probs"].append(log_probs)
                record["values"].append(values)
                record["rewards"].append(kill_rewards)
            for i, role in enumerate(ROLES):
                agent = AGENT_OF[role]
                totals.returns[i] += float(rewards[agent])
                totals.kill_rewards[i] += kill_rewards[i]
                totals.shots[i] += int(infos[agent]["shots"])
                totals.kills[i] += int(infos[agent]["kills"])
            if infos[SELLER]["traded"]:
                totals.trades += 1
                totals.price_sum += float(infos[SELLER]["price"])
            totals.env_steps += 1
            observations = next_observations
        self.num_env_steps_sampled_lifetime += totals.env_steps
        return totals

    def _gameplay_batch(self, count: int) -> dict[str, np.ndarray]:
        """Phase 0: ``count`` real episodes with their steps, for the ships' update."""
        keys = ("observations", "masks", "actions", "log_probs", "values", "rewards")
        record: dict[str, list] = {key: [] for key in keys}
        lengths, returns, shots = [], [], []
        rule = self.gameplay_rule()
        for _ in range(count):
            totals = self.play_episode(rule, record)
            lengths.append(totals.env_steps)
            returns.append(totals.kill_rewards)
            shots.append(totals.shots)
        batch = {key: np.asarray(values) for key, values in record.items()}
        batch["observations"] = batch["observations"].reshape(
            -1, *self.env.observation_space(SELLER).shape
        )
        batch["episode_lengths"] = np.asarray(lengths, np.int64)
        batch["seller_buyer_returns"] = np.asarray(returns, np.float64).reshape(-1, 2)
        batch["seller_buyer_shots"] = np.asarray(shots, np.int64).reshape(-1, 2)
        batch["payoff_returns"] = self._by_role(batch["seller_buyer_returns"])
        batch["env_steps"] = np.asarray(sum(lengths))
        return batch

    def measure(self, episodes: int, rule: TradeRule | None = None) -> EpisodeTotals:
        """``episodes`` real episodes (this runner's share) with ``rule`` (default: phase 0's),
        added up; the per-bullet values are ``kill_rewards / shots``."""
        rule = rule or self.gameplay_rule()
        totals = EpisodeTotals()
        with torch.no_grad():
            for _ in range(self._share(episodes)):
                totals.add(self.play_episode(rule))
        return totals

    def _by_role(self, seller_buyer: np.ndarray) -> np.ndarray:
        """Columns (seller, buyer) reordered to (leader, follower)."""
        return seller_buyer if self.leader == "seller" else seller_buyer[:, ::-1].copy()

    # -- trade episodes --------------------------------------------------------------------

    def _trade_batch(self, phase: str, values: tuple[float, float]) -> dict[str, np.ndarray]:
        config = self.config
        leader_phase = phase == LEADER_TRAINING
        count = self._share(
            config.leader_episodes_per_iteration
            if leader_phase
            else config.follower_episodes_per_iteration
        )
        answers = self._leader_answers(phase, count)
        contexts = context_of(self.leader, answers)
        logits = self.module.follower_logits(contexts)
        # The frozen follower of phase 2 plays greedily (App. C); phases 1 and 3 sample.
        responses = logits.argmax(dim=-1) if leader_phase else self._draw_rows(logits)
        rewards = self._outcome_table(values)[contexts, responses].float()  # (B, 2)
        return {
            "answers": answers.numpy(),
            "contexts": contexts.numpy(),
            "responses": responses.numpy(),
            "decides": follower_decides(self.leader, contexts).numpy(),
            "rewards": rewards.unsqueeze(1).numpy(),  # (B, 1, 2): one-step episodes
            "payoff_returns": rewards.numpy(),
            "prices": self._prices[contexts, responses].numpy(),
            "env_steps": np.asarray(0),  # no emulator frames: the values stand in for them
        }

    def _leader_answers(self, phase: str, count: int) -> torch.Tensor:
        """The context query: ``(count, queries)`` answers, from a uniformly random
        deterministic leader (phase 1), drawn from the leader's policy, each query on its own
        (phase 2), or the leader's greedy answers (phase 3)."""
        if phase == PRETRAINING:
            choice = torch.randint(self.shapes.contexts, (count,), generator=self.generator)
            return leader_policies(self.leader)[choice]
        if phase != LEADER_TRAINING:
            return self.module.leader_greedy().expand(count, -1)
        if count == 0:
            return torch.zeros(0, self.shapes.queries, dtype=torch.long)
        probabilities = torch.softmax(self.module.leader_scores(), dim=-1)  # (queries, answers)
        draws = [
            torch.multinomial(p, count, replacement=True, generator=self.generator)
            for p in probabilities
        ]
        return torch.stack(draws, dim=1)

    def _draw_rows(self, logits: torch.Tensor) -> torch.Tensor:
        """One action per row of ``logits`` ``(B, actions)``, drawn from its softmax."""
        if logits.shape[0] == 0:
            return torch.zeros(0, dtype=torch.long)
        probabilities = torch.softmax(logits, dim=-1)
        return torch.multinomial(probabilities, 1, generator=self.generator)[:, 0]

    def _outcome_table(self, values: tuple[float, float]) -> torch.Tensor:
        if values not in self._outcomes:
            self._outcomes = {values: outcome_table(self.leader, *values)}
        return self._outcomes[values]


def _compact(observation: np.ndarray) -> np.ndarray:
    """Frame stacks are kept as uint8 (k / 255 exactly, the trade channels to 1/255); RAM
    vectors as they are."""
    if observation.ndim == 3:
        return np.rint(observation * 255).astype(np.uint8)
    return observation
