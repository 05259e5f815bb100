"""``StackelbergConfig``: settings of contextual-policy Stackelberg learning (paper 003).

Defaults are the paper's (Table 1; App. C): the follower pre-trained with PG (lr 0.02, 100
steps = 10 episodes per iteration, 500 iterations), the leader trained with PPO (lr 0.008,
1000 steps per iteration, 30 epochs on one full-batch minibatch, clip 0.3, no entropy bonus,
500 iterations), 50 verification iterations, 10-step episodes with payoffs centred by -2.5,
undiscounted returns. ``tuned_examples/stackelberg_*_12games.yaml`` hold the PG and DQN leader
settings and the PPO + Q-learning baseline.
"""

from __future__ import annotations

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from rllib_meta.algorithms.checks import check_choice, check_int, check_number
from rllib_meta.algorithms.settings import set_provided

SUPPORTED_ENVS = ("matrix_game",)
FOLLOWER_ORACLES = ("contextual", "q_learning")
FOLLOWER_LEARNERS = ("pg", "ppo")
LEADER_LEARNERS = ("pg", "ppo", "dqn")
# The arguments of StackelbergConfig.training() beyond AlgorithmConfig's.
TRAINING_SETTINGS = (
    "follower_oracle",
    "follower_learner",
    "leader_learner",
    "pretraining_iterations",
    "leader_iterations",
    "verification_iterations",
    "follower_episodes_per_iteration",
    "leader_episodes_per_iteration",
    "follower_lr",
    "ppo_clip",
    "ppo_epochs",
    "ppo_minibatch_episodes",
    "dqn_batch_size",
    "dqn_updates_per_iteration",
    "dqn_learning_starts",
    "dqn_replay_capacity",
    "parameter_noise_initial_std",
    "parameter_noise_target",
    "q_learning_episodes",
    "q_learning_rate",
    "q_learning_epsilon",
    "q_learning_gamma",
)


class StackelbergConfig(AlgorithmConfig):
    """Configuration of :class:`~rllib_meta.algorithms.stackelberg.algorithm.StackelbergMeta`."""

    def __init__(self, algo_class: type | None = None):
        from rllib_meta.algorithms.stackelberg.algorithm import StackelbergMeta
        from rllib_meta.algorithms.stackelberg.env_runner import StackelbergEnvRunner

        super().__init__(algo_class=algo_class or StackelbergMeta)
        self.env_runner_cls = StackelbergEnvRunner
        self.num_env_runners = 0
        self.env = "matrix_game"
        self.env_config = {"game": "prisoners_dilemma", "center": True, "horizon": 10}
        self.gamma = 1.0
        # Who best-responds: the pre-trained contextual follower (the paper) or a tabular
        # Q-learner started from scratch in every leader episode (Brero et al. 2022 baseline).
        self.follower_oracle = "contextual"
        self.follower_learner = "pg"
        self.leader_learner = "ppo"
        # Algorithm 1's loops, in RLlib training iterations: pre-training (phase 1), leader
        # training (phase 2), and the equilibrium check (phase 3, App. C).
        self.pretraining_iterations = 500
        self.leader_iterations = 500
        self.verification_iterations = 50
        self.follower_episodes_per_iteration = 10
        self.leader_episodes_per_iteration = 100
        self.follower_lr = 0.02
        self.lr = 0.008  # the leader's
        # PPO (either side): RLlib 2.0's defaults for what Table 1 leaves unset.
        self.ppo_clip = 0.3
        self.ppo_epochs = 30
        self.ppo_minibatch_episodes = None  # None: one full-batch minibatch (Table 1)
        # DQN leader (Table 1: SimpleQ, train batch 1024, learning starts 5000, parameter noise).
        self.dqn_batch_size = 1024
        # Table 1 samples 10 steps (one episode) per update; with more episodes per iteration
        # set this to match, so fewer RLlib iterations carry the same updates.
        self.dqn_updates_per_iteration = 1
        self.dqn_learning_starts = 5000
        self.dqn_replay_capacity = 50_000
        self.parameter_noise_initial_std = 1.0
        self.parameter_noise_target = 0.05
        # PPO + Q-learning baseline: the follower's learning inside one leader episode.
        self.q_learning_episodes = 80
        self.q_learning_rate = 0.2
        self.q_learning_epsilon = 0.1
        # Its discount: the memory-one state does not show the time left, so undiscounted
        # values of a state are not stationary and gamma = 1 Q-learning need not settle.
        self.q_learning_gamma = 0.9

    def training(
        self,
        *,
        follower_oracle: str | None = NotProvided,
        follower_learner: str | None = NotProvided,
        leader_learner: str | None = NotProvided,
        pretraining_iterations: int | None = NotProvided,
        leader_iterations: int | None = NotProvided,
        verification_iterations: int | None = NotProvided,
        follower_episodes_per_iteration: int | None = NotProvided,
        leader_episodes_per_iteration: int | None = NotProvided,
        follower_lr: float | None = NotProvided,
        ppo_clip: float | None = NotProvided,
        ppo_epochs: int | None = NotProvided,
        ppo_minibatch_episodes: int | None = NotProvided,
        dqn_batch_size: int | None = NotProvided,
        dqn_updates_per_iteration: int | None = NotProvided,
        dqn_learning_starts: int | None = NotProvided,
        dqn_replay_capacity: int | None = NotProvided,
        parameter_noise_initial_std: float | None = NotProvided,
        parameter_noise_target: float | None = NotProvided,
        q_learning_episodes: int | None = NotProvided,
        q_learning_rate: float | None = NotProvided,
        q_learning_epsilon: float | None = NotProvided,
        q_learning_gamma: float | None = NotProvided,
        **kwargs,
    ) -> StackelbergConfig:
        """Stackelberg settings.

        ``follower_oracle``: contextual | q_learning. ``follower_learner``: pg | ppo (phases 1
        and 3). ``leader_learner``: pg | ppo | dqn (phase 2; ``lr`` is the leader's learning
        rate, ``follower_lr`` the follower's). ``*_iterations``: the length of each phase.
        ``*_episodes_per_iteration``: 10-step episodes per training iteration of each side.
        ``ppo_clip``, ``ppo_epochs``, ``ppo_minibatch_episodes``: PPO's clip, passes over the
        batch and minibatch size. ``dqn_batch_size`` (replayed leader episodes per update),
        ``dqn_updates_per_iteration`` (replay updates per training iteration),
        ``dqn_learning_starts`` (leader environment steps before the first update),
        ``dqn_replay_capacity`` (episodes), ``parameter_noise_initial_std`` and
        ``parameter_noise_target`` (the noise on the leader's action values and the fraction of
        its answers the noise should change). ``q_learning_*``: the baseline follower's
        episodes per leader episode, step size, epsilon and discount.
        """
        super().training(**kwargs)
        set_provided(self, TRAINING_SETTINGS, locals())
        return self

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        from rllib_meta.algorithms.stackelberg.rl_module import StackelbergModule

        return RLModuleSpec(module_class=StackelbergModule)

    def get_default_learner_class(self) -> type:
        from rllib_meta.algorithms.stackelberg.learner import StackelbergLearner

        return StackelbergLearner

    def validate(self) -> None:
        super().validate()
        check_choice("env", self.env, SUPPORTED_ENVS)
        check_choice("follower_oracle", self.follower_oracle, FOLLOWER_ORACLES)
        check_choice("follower_learner", self.follower_learner, FOLLOWER_LEARNERS)
        check_choice("leader_learner", self.leader_learner, LEADER_LEARNERS)
        for name in ("pretraining_iterations", "leader_iterations", "verification_iterations"):
            check_int(name, getattr(self, name), minimum=0)
        for name in (
            "follower_episodes_per_iteration",
            "leader_episodes_per_iteration",
            "ppo_epochs",
            "dqn_batch_size",
            "dqn_updates_per_iteration",
            "dqn_replay_capacity",
            "q_learning_episodes",
        ):
            check_int(name, getattr(self, name), minimum=1)
        check_int("dqn_learning_starts", self.dqn_learning_starts, minimum=0)
        if self.ppo_minibatch_episodes is not None:
            check_int("ppo_minibatch_episodes", self.ppo_minibatch_episodes, minimum=1)
        for name in ("lr", "follower_lr", "ppo_clip", "parameter_noise_initial_std"):
            check_number(name, getattr(self, name), low=0.0, low_open=True)
        for name in (
            "gamma",
            "parameter_noise_target",
            "q_learning_rate",
            "q_learning_epsilon",
            "q_learning_gamma",
        ):
            check_number(name, getattr(self, name), low=0.0, high=1.0)
        if self.follower_oracle == "q_learning":
            self._validate_q_learning_baseline()
        if self.num_learners > 1:
            raise ValueError(
                f"num_learners={self.num_learners}: the Stackelberg models are two lookup "
                "tables and train on one Learner; use num_learners 0 or 1."
            )

    def _validate_q_learning_baseline(self) -> None:
        """The Q-learner is rebuilt in every leader episode: nothing to pre-train or verify."""
        for name in ("pretraining_iterations", "verification_iterations"):
            if getattr(self, name) != 0:
                raise ValueError(
                    f"{name}={getattr(self, name)}: follower_oracle 'q_learning' learns from "
                    f"scratch inside every leader episode, so {name} must be 0."
                )
