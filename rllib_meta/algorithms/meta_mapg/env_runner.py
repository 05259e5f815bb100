"""``MetaMAPGEnvRunner``: samples whole Markov chains of joint policies, first order (the
Learner replays them with ``create_graph``; docs/architecture.md, "Meta-MAPG family").

Per chain: draw peer personas from a split of the population, play K trajectories per chain
step on the batched matrix-game core, apply both agents' inner updates without a graph, and
return the trajectories (as numpy arrays) for the Learner to replay with ``create_graph``.
Meta-validation and meta-testing (Algorithm 2) play chains the same way on other splits and
return per-step rewards and action frequencies instead.
"""

import os
from typing import Any

import numpy as np
import torch

import envs
from envs.matrix.batched import BatchedIteratedMatrixGame
from envs.matrix.personas import PersonaPopulation, population_for_game
from rllib_meta.algorithms.base.env_runner import SamplingEnvRunner
from rllib_meta.algorithms.meta_mapg.agent import MetaAgent
from rllib_meta.algorithms.meta_mapg.chain import PlayerParams
from rllib_meta.algorithms.meta_mapg.cheetah import (
    network_params_record,
    render_pair,
    sample_cheetah_chain,
    teammate_for,
)
from rllib_meta.algorithms.meta_mapg.objectives import TrajectoryBatch
from rllib_meta.algorithms.meta_mapg.peers import TABULAR_PEERS, NetworkPeers, PeerPolicy
from rllib_meta.algorithms.meta_mapg.sampling import ChainSample, sample_chains

# Meta-validation and meta-testing play the chains of a split in groups of at most this many
# chains (one chain-batched computation each), which bounds the memory of one group.
MAX_CHAINS_AT_ONCE = 10


def chain_record(chain: ChainSample, personas: np.ndarray) -> dict[str, np.ndarray]:
    """A sampled chain as compact numpy arrays (what travels to the Learner)."""
    return {
        "states": np.stack([b.states.numpy() for b in chain.batches]).astype(np.int16),
        "actions": np.stack([b.actions.numpy() for b in chain.batches]).astype(np.int8),
        "rewards": np.stack([b.rewards.numpy() for b in chain.batches]).astype(np.float32),
        "peer_logits": np.stack([p.numpy() for p in chain.peer_logits[0]]),
        "personas": personas,
    }


def _tensor(values: np.ndarray) -> torch.Tensor:
    """Integer arrays (the matrix games' states and actions) as int64, floats as they are."""
    if np.issubdtype(values.dtype, np.integer):
        return torch.from_numpy(values.astype(np.int64))
    return torch.tensor(values)


def batches_from_record(record: dict[str, np.ndarray]) -> list[TrajectoryBatch]:
    """The inverse of :func:`chain_record` (and :func:`cheetah_chain_record`) for the
    trajectories."""
    return [
        TrajectoryBatch(states=_tensor(states), actions=_tensor(actions), rewards=_tensor(rewards))
        for states, actions, rewards in zip(
            record["states"], record["actions"], record["rewards"], strict=True
        )
    ]


def batches_from_records(records: list[dict[str, np.ndarray]]) -> list[TrajectoryBatch]:
    """The chains of ``records`` (equal shapes: one meta-batch) as chain-batched batches, one
    per chain step: states ``(C, K, H[, D])``, actions ``(n, C, K, H[, d])``, rewards
    ``(n, C, K, H)`` (the layout of ``objectives.TrajectoryBatch``)."""
    per_chain = [batches_from_record(record) for record in records]
    return [
        TrajectoryBatch(
            states=torch.stack([batch.states for batch in step]),
            actions=torch.stack([batch.actions for batch in step], 1),
            rewards=torch.stack([batch.rewards for batch in step], 1),
        )
        for step in zip(*per_chain, strict=True)
    ]


def chains_peers(records: list[dict[str, Any]]) -> tuple[list[PlayerParams], PeerPolicy]:
    """:func:`chain_peers` of every record, stacked: each peer's parameters at ``phi_0`` with
    a leading chain dimension (``(C, S, A)`` logits, or a dict of ``(C, ...)`` tensors)."""
    peers, policies = zip(*(chain_peers(record) for record in records), strict=True)
    kinds = {type(policy).__name__ for policy in policies}
    if len(kinds) > 1:
        raise ValueError(f"the chains of one meta-batch need one kind of peers, got {kinds}")

    def stack(values: list[PlayerParams]) -> PlayerParams:
        if isinstance(values[0], torch.Tensor):
            return torch.stack(values)
        return {name: torch.stack([value[name] for value in values]) for name in values[0]}

    return [stack(list(peer)) for peer in zip(*peers, strict=True)], policies[0]


def chain_peers(record: dict[str, Any]) -> tuple[list[PlayerParams], PeerPolicy]:
    """The peers' parameters at ``phi_0`` of a recorded chain, and how they score actions:
    tabular logits (the matrix games), or network parameters (``"peer_params"``: 2-agent
    HalfCheetah's teammate)."""
    if "peer_params" not in record:
        return [torch.tensor(logits) for logits in record["peer_logits"]], TABULAR_PEERS
    params = record["peer_params"]
    peers = [
        {name: torch.tensor(value[index]) for name, value in params.items()}
        for index in range(len(record["teammates"]))
    ]
    return peers, NetworkPeers(teammate_for(peers[0]))


def cheetah_chain_record(chain: ChainSample, teammates: np.ndarray) -> dict[str, Any]:
    """A sampled HalfCheetah chain as numpy arrays: float trajectories, the teammates'
    checkpoint indices and their parameters at ``phi_0`` (stacked over teammates)."""
    first = chain.peer_params[0]
    return {
        "states": np.stack([b.states.numpy() for b in chain.batches]),
        "actions": np.stack([b.actions.numpy() for b in chain.batches]),
        "rewards": np.stack([b.rewards.numpy() for b in chain.batches]).astype(np.float32),
        "peer_params": {
            name: np.stack([network_params_record(p)[name] for p in first]) for name in first[0]
        },
        "teammates": np.asarray(teammates, np.int64),
    }


class ChainEnvRunner(SamplingEnvRunner):
    """What the chain samplers share: the meta-agent, RLlib's ``sample()`` entry point and the
    meta-training loop over chains (Algorithm 1, lines 3-8). A subclass draws the peers of a
    chain from a split (:meth:`_draw_peers`), plays (:meth:`_play`) and records
    (:meth:`_record`) the chain, and says how many env steps one chain step takes."""

    @property
    def agent(self) -> MetaAgent:
        return self.module.agent

    @property
    def env_steps_per_chain_step(self) -> int:
        raise NotImplementedError

    @property
    def env_steps_per_chain(self) -> int:
        return (self.config.chain_length + 1) * self.env_steps_per_chain_step

    def _draw_peers(self, split: str) -> np.ndarray:
        raise NotImplementedError

    def _play(self, peers: np.ndarray) -> ChainSample:
        raise NotImplementedError

    def _play_all(self, chains_peers: list[np.ndarray]) -> list[ChainSample]:
        """One chain per entry of ``chains_peers``; by default one after another."""
        return [self._play(peers) for peers in chains_peers]

    def _record(self, chain: ChainSample, peers: np.ndarray) -> dict[str, Any]:
        raise NotImplementedError

    def sample_chains(self, num_chains: int, split: str = "train") -> list[dict[str, Any]]:
        """Meta-training data: ``num_chains`` chains, each against peers drawn uniformly
        from ``split``."""
        drawn = [self._draw_peers(split) for _ in range(num_chains)]
        chains = self._play_all(drawn) if num_chains else []
        self.num_env_steps_sampled_lifetime += num_chains * self.env_steps_per_chain
        return [self._record(chain, peers) for chain, peers in zip(chains, drawn, strict=True)]

    def sample(self, **kwargs) -> list[dict[str, Any]]:
        """RLlib's generic entry point: this runner's share of one iteration's chains."""
        chains = self.share.of(self.config.chains_per_iteration)
        return self.sample_chains(chains, self.config.train_split)


class MetaMAPGEnvRunner(ChainEnvRunner):
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
        self._games = {1: self.game}  # by number of chains sampled at once
        self.population: PersonaPopulation = population_for_game(self.env.game.name)
        self.rng = np.random.default_rng(self.seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    # -- sampling --------------------------------------------------------------------------

    def _play(self, personas: np.ndarray) -> ChainSample:
        (chain,) = self._play_all([personas])
        return chain

    def _play_all(self, chains_personas: list[np.ndarray]) -> list[ChainSample]:
        """All chains at once (``sampling.sample_chains``): one game batch of C x K games."""
        peers = [
            [torch.from_numpy(logits) for logits in self.population.logits(personas)]
            for personas in chains_personas
        ]
        return sample_chains(
            self.agent,
            peers,
            self._game_for(len(peers)),
            self.config.chain_length,
            self.config.gamma,
            self.config.peer_learning_rate,
            self.generator,
            lookahead=self.config.lookahead,
        )

    def _game_for(self, chains: int) -> BatchedIteratedMatrixGame:
        """The batched core sized for ``chains`` chains of K games (kept for reuse)."""
        games = self._games
        if chains not in games:
            games[chains] = BatchedIteratedMatrixGame(
                self.env.game,
                self.env.horizon,
                chains * self.game.batch_size,
                reward_offset=self.env.reward_offset,
                reward_scale=self.env.reward_scale,
            )
        return games[chains]

    def _draw_peers(self, split: str) -> np.ndarray:
        """One persona per peer, uniformly from ``split``."""
        num_peers = self.game.num_players - 1
        return self.rng.choice(self.population.indices(split), size=num_peers, replace=True)

    def _record(self, chain: ChainSample, personas: np.ndarray) -> dict[str, Any]:
        return chain_record(chain, personas)

    @property
    def env_steps_per_chain_step(self) -> int:
        return self.game.batch_size * self.game.horizon

    def meta_test(self, split: str, num_chains: int = 0) -> dict[str, np.ndarray]:
        """Algorithm 2 on ``split``: one chain per persona of the split (or ``num_chains``
        random ones); per chain step, every player's mean reward per time step and mean
        action frequencies. The first peer's persona decides the chain's persona kind."""
        indices = self.population.indices(split)
        if num_chains:
            indices = self.rng.choice(indices, size=num_chains, replace=True)
        rewards, action_probs, kinds = [], [], []
        num_actions = self.game.num_actions
        drawn = [
            np.concatenate([[first], self._draw_peers(split)[1:]]).astype(np.int64)
            for first in indices
        ]
        for first, chain in zip(indices, self._play_in_groups(drawn), strict=True):
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

    def _play_in_groups(self, chains_personas: list[np.ndarray]) -> list[ChainSample]:
        """:meth:`_play_all` in groups of at most ``MAX_CHAINS_AT_ONCE`` chains."""
        chains = []
        for start in range(0, len(chains_personas), MAX_CHAINS_AT_ONCE):
            chains.extend(self._play_all(chains_personas[start : start + MAX_CHAINS_AT_ONCE]))
        return chains

    def meta_test_labels(self) -> dict[str, Any]:
        """The game's name, the persona kinds and the action names (meta_test.py's tables)."""
        return {
            "game": self.env.game.name,
            "kind_names": tuple(self.population.kind_names),
            "action_names": tuple(self.env.game.action_names),
        }


class MetaMAPGCheetahEnvRunner(ChainEnvRunner):
    """Chain sampler for 2-agent HalfCheetah (``halfcheetah_2x3``, paper 001 Sec. 5): the
    meta-agent on the back leg, a teammate drawn from a split of the pre-trained population
    (``teammate_population``, built by ``python -m
    rllib_meta.algorithms.meta_mapg.teammates``) on the front leg, K cheetahs per chain step
    (``cheetah.py``). The env's ``horizon``, ``direction`` and ``reward_scale`` apply; both
    players observe the full state (``observation: full``)."""

    RANDOM_GENERATORS = ("rng", "generator", "reset_rng")  # teammate draws; actions; resets

    def __init__(self, *, config, **kwargs):
        super().__init__(config=config, **kwargs)
        from envs.mujoco.batched import BatchedHalfCheetah
        from rllib_meta.algorithms.meta_mapg.teammates import load_teammate_population

        if self.env.observation != "full":
            raise ValueError(
                "Meta-MAPG on halfcheetah_2x3 needs env_config observation 'full' (the paper's "
                f"17-value state for both players), got {self.env.observation!r}"
            )
        self.population = load_teammate_population(population_directory(config))
        self.teammate = self.population.network()
        self.core = BatchedHalfCheetah(
            config.trajectories_per_step,
            self.env.horizon,
            direction=self.env.direction,
            reward_scale=self.env.reward_scale,
            seed=self.seed,
        )
        self.rng = np.random.default_rng(self.seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    @property
    def reset_rng(self) -> np.random.Generator:
        """The cheetahs' reset noise (checkpointed with the other generators)."""
        return self.core.rng

    def _play(self, teammates: np.ndarray) -> ChainSample:
        """A chain with the teammate checkpoint ``teammates[0]``."""
        return sample_cheetah_chain(
            self.agent,
            self.teammate,
            self.population.checkpoint_params[int(teammates[0])],
            self.core,
            self.config.chain_length,
            self.config.gamma,
            self.config.peer_learning_rate,
            self.generator,
            lookahead=self.config.lookahead,
        )

    def _draw_peers(self, split: str) -> np.ndarray:
        """One teammate checkpoint, uniformly from ``split`` of the population."""
        return np.asarray([int(self.rng.choice(self.population.split(split)))])

    def _record(self, chain: ChainSample, teammates: np.ndarray) -> dict[str, Any]:
        return cheetah_chain_record(chain, teammates)

    @property
    def env_steps_per_chain_step(self) -> int:
        return self.core.batch_size * self.core.horizon

    def meta_test(self, split: str, num_chains: int = 0) -> dict[str, np.ndarray]:
        """Algorithm 2 on ``split``: one chain per teammate checkpoint of the split (or
        ``num_chains`` random ones); per chain step, both players' mean reward per time
        step (the one shared reward)."""
        indices = np.asarray(self.population.split(split))
        if num_chains:
            indices = self.rng.choice(indices, size=num_chains, replace=True)
        rewards = []
        for teammate in indices:
            chain = self._play(np.asarray([teammate]))
            rewards.append(np.stack([b.rewards.mean(dim=(1, 2)).numpy() for b in chain.batches]))
        return {
            "rewards": np.stack(rewards),  # (P, L+1, 2)
            "action_probs": None,  # continuous actions
            "persona_kinds": np.zeros(len(indices), np.int64),
            "teammates": indices,
        }

    def meta_test_labels(self) -> dict[str, Any]:
        return {"game": self.config.env, "kind_names": ("teammate",), "action_names": ()}

    def render_adapted_pair(self, split: str = "test", num_frames: int = 8) -> dict[str, Any]:
        """Frames of the pair after the chain's last joint update (``phi_L``) with the first
        teammate of ``split``, one episode on the env with off-screen rendering (needs
        ``MUJOCO_GL=egl`` or ``osmesa``; the error of the GL backend otherwise)."""
        teammate = int(self.population.split(split)[0])
        chain = self._play(np.asarray([teammate]))
        env = envs.make(
            self.config.env, **{**dict(self.config.env_config), "render_mode": "rgb_array"}
        )
        try:
            frames, moved = render_pair(
                self.agent.policy,
                chain.agent_params[-1],
                self.teammate,
                chain.peer_params[-1][0],
                env,
                self.generator,
                num_frames,
                seed=self.seed,
            )
        finally:
            env.close()
        return {"frames": frames, "moved_right": moved, "teammate": teammate}


def population_directory(config) -> str:
    """``config.teammate_population`` as a path; a relative one is read from the directory
    the command started in (Tune runs a trial in its own directory and says where it
    started in ``TUNE_ORIG_WORKING_DIR``)."""
    path = os.path.expanduser(config.teammate_population)
    if os.path.isabs(path):
        return path
    return os.path.join(os.environ.get("TUNE_ORIG_WORKING_DIR", os.getcwd()), path)
