"""``MetaMAPGEnvRunner``: samples whole Markov chains of joint policies, first order (the
Learner replays them with ``create_graph``; docs/architecture.md, "Meta-MAPG family").

Per chain: draw peer personas from a split of the population, play K trajectories per chain
step on the batched matrix-game core, apply both agents' inner updates without a graph, and
return the trajectories (as numpy arrays) for the Learner to replay with ``create_graph``.
Meta-validation and meta-testing (Algorithm 2) play chains the same way on other splits and
return per-step rewards and action frequencies instead.
"""

from typing import Any

import numpy as np
import torch

from envs.matrix.batched import BatchedIteratedMatrixGame
from envs.matrix.personas import PersonaPopulation, population_for_game
from rllib_meta.algorithms.base.env_runner import SamplingEnvRunner
from rllib_meta.algorithms.meta_mapg.agent import MetaAgent
from rllib_meta.algorithms.meta_mapg.objectives import TrajectoryBatch
from rllib_meta.algorithms.meta_mapg.sampling import ChainSample, sample_chain


def chain_record(chain: ChainSample, personas: np.ndarray) -> dict[str, np.ndarray]:
    """A sampled chain as compact numpy arrays (what travels to the Learner)."""
    return {
        "states": np.stack([b.states.numpy() for b in chain.batches]).astype(np.int16),
        "actions": np.stack([b.actions.numpy() for b in chain.batches]).astype(np.int8),
        "rewards": np.stack([b.rewards.numpy() for b in chain.batches]).astype(np.float32),
        "peer_logits": np.stack([p.numpy() for p in chain.peer_logits[0]]),
        "personas": personas,
    }


def batches_from_record(record: dict[str, np.ndarray]) -> list[TrajectoryBatch]:
    """The inverse of :func:`chain_record` for the trajectories."""
    return [
        TrajectoryBatch(
            states=torch.from_numpy(states.astype(np.int64)),
            actions=torch.from_numpy(actions.astype(np.int64)),
            rewards=torch.tensor(rewards),
        )
        for states, actions, rewards in zip(
            record["states"], record["actions"], record["rewards"], strict=True
        )
    ]


class MetaMAPGEnvRunner(SamplingEnvRunner):
    """Chain sampler for the iterated matrix games (``ipd``, ``rps`` with 2-4 players)."""

    RANDOM_GENERATORS = ("rng", "generator")  # persona draws; actions

    def __init__(self, *, config, **kwargs):
        super().__init__(config=config, **kwargs)
        self.game = BatchedIteratedMatrixGame(
            self.env.game,
            self.env.horizon,
            config.trajectories_per_step,
            reward_offset=self.env.reward_offset,
            reward_scale=self.env.reward_scale,
        )
        self.population: PersonaPopulation = population_for_game(self.env.game.name)
        self.rng = np.random.default_rng(self.seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    @property
    def agent(self) -> MetaAgent:
        return self.module.agent

    # -- sampling --------------------------------------------------------------------------

    def _play(self, personas: np.ndarray) -> ChainSample:
        peers = [torch.from_numpy(logits) for logits in self.population.logits(personas)]
        return sample_chain(
            self.agent,
            peers,
            self.game,
            self.config.chain_length,
            self.config.gamma,
            self.config.peer_learning_rate,
            self.generator,
            lookahead=self.config.lookahead,
        )

    def _draw_personas(self, split: str) -> np.ndarray:
        num_peers = self.game.num_players - 1
        return self.rng.choice(self.population.indices(split), size=num_peers, replace=True)

    def sample_chains(self, num_chains: int, split: str = "train") -> list[dict[str, Any]]:
        """Meta-training data (Algorithm 1, lines 3-8): ``num_chains`` chains, each against
        peers drawn uniformly from ``split``."""
        records = []
        for _ in range(num_chains):
            personas = self._draw_personas(split)
            records.append(chain_record(self._play(personas), personas))
        self.num_env_steps_sampled_lifetime += num_chains * self.env_steps_per_chain
        return records

    @property
    def env_steps_per_chain(self) -> int:
        return (self.config.chain_length + 1) * self.game.batch_size * self.game.horizon

    def meta_test(self, split: str, num_chains: int = 0) -> dict[str, np.ndarray]:
        """Algorithm 2 on ``split``: one chain per persona of the split (or ``num_chains``
        random ones); per chain step, every player's mean reward per time step and mean
        action frequencies. The first peer's persona decides the chain's persona kind."""
        indices = self.population.indices(split)
        if num_chains:
            indices = self.rng.choice(indices, size=num_chains, replace=True)
        rewards, action_probs, kinds = [], [], []
        num_actions = self.game.num_actions
        for first in indices:
            others = self._draw_personas(split)[1:]
            personas = np.concatenate([[first], others]).astype(np.int64)
            chain = self._play(personas)
            rewards.append(np.stack([b.rewards.mean(dim=(1, 2)).numpy() for b in chain.batches]))
            action_probs.append(
                np.stack(
                    [
                        torch.nn.functional.one_hot(b.actions, num_actions)
                        .float()
                        .mean(dim=(1, 2))
                        .numpy()
                        for b in chain.batches
                    ]
                )
            )
            kinds.append(self.population.kinds[first])
        return {
            "rewards": np.stack(rewards),  # (P, L+1, n)
            "action_probs": np.stack(action_probs),  # (P, L+1, n, A)
            "persona_kinds": np.asarray(kinds),
        }

    def sample(self, **kwargs) -> list[dict[str, Any]]:
        """RLlib's generic entry point: this runner's share of one iteration's chains."""
        chains = self.share.of(self.config.chains_per_iteration)
        return self.sample_chains(chains, self.config.train_split)
