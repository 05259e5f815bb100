"""``StackelbergConfig``: settings of contextual-policy Stackelberg learning (paper 003).

Defaults are the paper's (Table 1; App. C): the follower pre-trained with PG (lr 0.02, 100
steps = 10 episodes per iteration, 500 iterations), the leader trained with PPO (lr 0.008,
1000 steps per iteration, 30 epochs on one full-batch minibatch, clip 0.3, no entropy bonus,
500 iterations), 50 verification iterations, 10-step episodes with payoffs centred by -2.5,
undiscounted returns. ``tuned_examples/stackelberg_*_12games.yaml`` hold the PG and DQN leader
settings and the PPO + Q-learning baseline.
"""

from __future__ import annotations

from typing import Any

import envs
from rllib_meta.algorithms.base.config import Components, MetaAlgorithmConfig
from rllib_meta.algorithms.base.settings import (
    Setting,
    boolean,
    choice,
    fraction,
    integer,
    optional,
    positive,
)

FOLLOWER_ORACLES = ("contextual", "q_learning")
FOLLOWER_LEARNERS = ("pg", "ppo")
LEADER_LEARNERS = ("pg", "ppo", "dqn")


class StackelbergConfig(MetaAlgorithmConfig):
    """Configuration of :class:`~rllib_meta.algorithms.stackelberg.algorithm.StackelbergMeta`."""

    COMPONENTS = Components(
        "StackelbergMeta", "StackelbergLearner", "StackelbergModule", "StackelbergEnvRunner"
    )
    SUPPORTED_ENVS = ("matrix_game",)
    SINGLE_LEARNER_REASON = "the Stackelberg models are two lookup tables and train on one Learner"
    RLLIB_SETTINGS = {
        "env_config": Setting({"game": "prisoners_dilemma", "center": True, "horizon": 10}),
        "gamma": Setting(1.0, fraction()),
        "lr": Setting(0.008, positive()),  # the leader's
    }
    SETTINGS = {
        # Who best-responds: the pre-trained contextual follower (the paper) or a tabular
        # Q-learner started from scratch in every leader episode (Brero et al. 2022 baseline).
        "follower_oracle": Setting("contextual", choice(*FOLLOWER_ORACLES), "who best-responds"),
        "follower_learner": Setting("pg", choice(*FOLLOWER_LEARNERS), "phases 1 and 3"),
        # Not the paper's follower (it sees the state and the context only): one that also
        # sees the time step, so it can best-respond over all policies (the time-aware
        # response), not only over stationary ones; the optimum and regrets follow it.
        "follower_observes_time": Setting(
            False, boolean(), "the follower's input includes the time step"
        ),
        "leader_learner": Setting("ppo", choice(*LEADER_LEARNERS), "phase 2; lr is its step"),
        # Algorithm 1's loops, in algorithm steps (one sampling round and one update each):
        # pre-training (phase 1), leader training (phase 2), the equilibrium check (phase 3,
        # App. C). A training iteration (one Tune report) runs iterations_per_report steps.
        "iterations_per_report": Setting(
            1, integer(1), "algorithm steps per training iteration (per Tune report)"
        ),
        "pretraining_iterations": Setting(500, integer(0), "phase 1's length"),
        "leader_iterations": Setting(500, integer(0), "phase 2's length"),
        "verification_iterations": Setting(50, integer(0), "phase 3's length"),
        "follower_episodes_per_iteration": Setting(10, integer(1), "phases 1 and 3"),
        "leader_episodes_per_iteration": Setting(100, integer(1), "phase 2"),
        "follower_lr": Setting(0.02, positive(), "the follower's Adam step size"),
        # PPO (either side): RLlib 2.0's defaults for what Table 1 leaves unset.
        "ppo_clip": Setting(0.3, positive(), "PPO's ratio clip"),
        "ppo_epochs": Setting(30, integer(1), "PPO's passes over the batch"),
        "ppo_minibatch_episodes": Setting(
            None, optional(integer(1)), "episodes per minibatch (None: one full batch, Table 1)"
        ),
        # DQN leader (Table 1: SimpleQ, train batch 1024, learning starts 5000, parameter noise).
        "dqn_batch_size": Setting(1024, integer(1), "replayed leader episodes per update"),
        # Table 1 samples 10 steps (one episode) per update; with more episodes per iteration
        # set this to match, so fewer RLlib iterations carry the same updates.
        "dqn_updates_per_iteration": Setting(1, integer(1), "replay updates per iteration"),
        "dqn_learning_starts": Setting(5000, integer(0), "leader env steps before updates"),
        "dqn_replay_capacity": Setting(50_000, integer(1), "episodes in the replay buffer"),
        "parameter_noise_initial_std": Setting(
            1.0, positive(), "initial noise on the leader's action values"
        ),
        "parameter_noise_target": Setting(
            0.05, fraction(), "fraction of its answers the noise should change"
        ),
        # PPO + Q-learning baseline: the follower's learning inside one leader episode.
        "q_learning_episodes": Setting(80, integer(1), "the baseline's episodes per leader one"),
        "q_learning_rate": Setting(0.2, fraction(), "the baseline's step size"),
        "q_learning_epsilon": Setting(0.1, fraction(), "the baseline's exploration"),
        # Its discount: the memory-one state does not show the time left, so undiscounted
        # values of a state are not stationary and gamma = 1 Q-learning need not settle.
        "q_learning_gamma": Setting(0.9, fraction(), "the baseline's discount"),
    }

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        # The follower's table has one block of rows per step it can tell apart.
        steps = self.episode_horizon() if self.follower_observes_time else 1
        return {**super()._model_config_auto_includes, "follower_steps": steps}

    def episode_horizon(self) -> int:
        """The episode length of the configured game."""
        return envs.make(self.env, **dict(self.env_config)).horizon

    @property
    def follower_kind(self) -> str:
        """The class of follower responses the exact checks compare with."""
        return "time_aware" if self.follower_observes_time else "stationary"

    def validate(self) -> None:
        super().validate()
        if self.follower_oracle == "q_learning":
            self._validate_q_learning_baseline()

    def _validate_q_learning_baseline(self) -> None:
        """The Q-learner is rebuilt in every leader episode: nothing to pre-train or verify."""
        if self.follower_observes_time:
            raise ValueError(
                "follower_observes_time=True: follower_oracle 'q_learning' has no contextual "
                "follower to give the time step to; use follower_oracle 'contextual'."
            )
        for name in ("pretraining_iterations", "verification_iterations"):
            if getattr(self, name) != 0:
                raise ValueError(
                    f"{name}={getattr(self, name)}: follower_oracle 'q_learning' learns from "
                    f"scratch inside every leader episode, so {name} must be 0."
                )
