"""``rllib evaluate``: restore a checkpoint and play whole episodes with its policies.

Algorithms with their own evaluation protocol (meta-testing along a chain of joint policies,
say) define a classmethod ``evaluate_checkpoints(paths, args) -> int`` on their Algorithm
class; :func:`rllib_meta.cli` hands it the paths as the user gave them (checkpoints, trial or
experiment directories) instead.
"""

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rllib_meta.evaluation.checkpoints import load_checkpoint_info
from rllib_meta.evaluation.statistics import Z_95


@dataclasses.dataclass(frozen=True)
class AgentSummary:
    """One agent's episode returns over the evaluation episodes."""

    agent_id: str
    module_id: str
    returns: np.ndarray
    lengths: np.ndarray

    @property
    def mean_return(self) -> float:
        return float(self.returns.mean())

    @property
    def ci95(self) -> float:
        """Half-width of the normal 95% confidence interval of the mean return."""
        if len(self.returns) < 2:
            return math.nan
        return float(Z_95 * self.returns.std(ddof=1) / math.sqrt(len(self.returns)))

    @property
    def mean_reward_per_step(self) -> float:
        return float(self.returns.sum() / max(1, self.lengths.sum()))


@dataclasses.dataclass(frozen=True)
class EpisodeReport:
    """Evaluation of one checkpoint."""

    checkpoint: Path
    algorithm: str
    env: str
    episodes: int
    explore: bool
    agents: list[AgentSummary]

    def table(self) -> str:
        mode = "sampled actions" if self.explore else "greedy actions"
        lines = [
            f"Checkpoint {self.checkpoint}",
            f"{self.algorithm} on {self.env}: {self.episodes} episodes, {mode}",
            f"{'agent':<14}{'module':<16}{'mean return':>12}{'95% CI':>10}{'reward/step':>13}",
        ]
        for agent in self.agents:
            lines.append(
                f"{agent.agent_id:<14}{agent.module_id:<16}{agent.mean_return:>12.4f}"
                f"{agent.ci95:>10.4f}{agent.mean_reward_per_step:>13.4f}"
            )
        return "\n".join(lines)


def _evaluation_config(config, seed: int | None):
    """The checkpoint's config, shrunk to one local EnvRunner and a local Learner."""
    config = config.copy(copy_frozen=False)
    config.env_runners(num_env_runners=0, num_envs_per_env_runner=1)
    config.learners(num_learners=0, num_gpus_per_learner=0)
    config.evaluation(evaluation_interval=None, evaluation_num_env_runners=0)
    if seed is not None:
        config.debugging(seed=seed)
    return config


def evaluate_checkpoint(
    path: str | Path, episodes: int = 100, explore: bool = True, seed: int | None = 0
) -> EpisodeReport:
    """Restore the algorithm of ``path`` and sample ``episodes`` complete episodes with it.

    Needs Ray running (``rllib_meta.cluster.ray_session``). ``explore=True`` samples actions
    from the policies (the natural choice for the stochastic policies of matrix games);
    ``False`` takes the greedy action.
    """
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}.")
    info = load_checkpoint_info(path)
    algorithm = info.algorithm_class.from_checkpoint(
        str(info.path), config=_evaluation_config(info.config, seed)
    )
    try:
        sampled = algorithm.env_runner.sample(
            num_episodes=episodes, explore=explore, force_reset=True
        )
        mapping = algorithm.config.policy_mapping_fn
        agents = sorted({aid for episode in sampled for aid in episode.agent_episodes})
        summaries = []
        for agent_id in agents:
            agent_episodes = [
                e.agent_episodes[agent_id] for e in sampled if agent_id in e.agent_episodes
            ]
            summaries.append(
                AgentSummary(
                    agent_id=str(agent_id),
                    module_id=str(mapping(agent_id, sampled[0])),
                    returns=np.array([e.get_return() for e in agent_episodes], dtype=np.float64),
                    lengths=np.array([len(e) for e in agent_episodes], dtype=np.int64),
                )
            )
    finally:
        algorithm.stop()
    return EpisodeReport(
        checkpoint=info.path,
        algorithm=info.algorithm_class.__name__,
        env=str(info.config.env),
        episodes=len(sampled),
        explore=explore,
        agents=summaries,
    )


def format_reports(reports: Sequence[EpisodeReport]) -> str:
    return "\n\n".join(report.table() for report in reports)
