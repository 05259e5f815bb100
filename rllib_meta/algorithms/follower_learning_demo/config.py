"""``FollowerLearningDemoConfig``: settings of the follower reset-vs-continuous demonstration
(paper 003, Appendix B, Fig. 3) on the single-shot Battle of the Sexes.

The paper gives no hyperparameters for this experiment (only "a standard inner-loop outer-loop
approach" with a tabular Q-learning follower); the defaults below are this implementation's:
10 follower episodes per leader update, follower alpha 0.1 and epsilon 0.1, leader Adam 0.05,
the leader's batch made of the plays during the follower's learning. docs/results.md (issue 4)
reports how the outcome depends on them.
"""

from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from rllib_meta.algorithms.checks import check_choice, check_int, check_number
from rllib_meta.algorithms.settings import set_provided

SUPPORTED_ENVS = ("battle_of_sexes",)
LEADER_BATCHES = ("follower_learning", "after_learning")
# The arguments of FollowerLearningDemoConfig.training() beyond AlgorithmConfig's.
TRAINING_SETTINGS = (
    "follower_reset",
    "follower_episodes",
    "follower_alpha",
    "follower_epsilon",
    "leader_batch",
    "leader_batch_size",
)


class FollowerLearningDemoConfig(AlgorithmConfig):
    """Configuration of :class:`~.algorithm.FollowerLearningDemo`."""

    def __init__(self, algo_class: type | None = None):
        from rllib_meta.algorithms.follower_learning_demo.algorithm import FollowerLearningDemo
        from rllib_meta.algorithms.follower_learning_demo.env_runner import (
            FollowerLearningEnvRunner,
        )

        super().__init__(algo_class=algo_class or FollowerLearningDemo)
        self.env_runner_cls = FollowerLearningEnvRunner
        self.num_env_runners = 0
        self.env = "battle_of_sexes"
        self.env_config = {"scaled": True}
        self.follower_reset = True
        self.follower_episodes = 10
        self.follower_alpha = 0.1
        self.follower_epsilon = 0.1
        self.leader_batch = "follower_learning"
        self.leader_batch_size = 100
        self.lr = 0.05

    def training(
        self,
        *,
        follower_reset: bool | None = NotProvided,
        follower_episodes: int | None = NotProvided,
        follower_alpha: float | None = NotProvided,
        follower_epsilon: float | None = NotProvided,
        leader_batch: str | None = NotProvided,
        leader_batch_size: int | None = NotProvided,
        **kwargs,
    ) -> "FollowerLearningDemoConfig":
        """Demo settings.

        ``follower_reset``: True zeroes the follower's Q-table before every leader update
        (re-initialisation, as in "The Good Shepherd"); False keeps it (continuous learning).
        ``follower_episodes``: single-shot episodes the follower learns per leader update, with
        step size ``follower_alpha`` and exploration ``follower_epsilon``. ``leader_batch``:
        ``"follower_learning"`` (the leader's PG batch is those episodes' plays) or
        ``"after_learning"`` (``leader_batch_size`` fresh plays against the follower's greedy
        policy after it learned). ``lr``: the leader's Adam step size.
        """
        super().training(**kwargs)
        set_provided(self, TRAINING_SETTINGS, locals())
        return self

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        from rllib_meta.algorithms.follower_learning_demo.rl_module import LeaderModule

        return RLModuleSpec(module_class=LeaderModule)

    def get_default_learner_class(self) -> type:
        from rllib_meta.algorithms.follower_learning_demo.learner import LeaderLearner

        return LeaderLearner

    def validate(self) -> None:
        super().validate()
        check_choice("env", self.env, SUPPORTED_ENVS)
        _check_bool("follower_reset", self.follower_reset)
        check_choice("leader_batch", self.leader_batch, LEADER_BATCHES)
        for name in ("follower_episodes", "leader_batch_size"):
            check_int(name, getattr(self, name), minimum=1)
        for name in ("follower_alpha", "follower_epsilon"):
            check_number(name, getattr(self, name), low=0.0, high=1.0)
        check_number("lr", self.lr, low=0.0, low_open=True)
        if self.num_env_runners != 0:
            raise ValueError(
                f"num_env_runners={self.num_env_runners}: the demo has one follower, which "
                "lives in the local EnvRunner; use num_env_runners 0."
            )
        if self.num_learners > 1:
            raise ValueError(
                f"num_learners={self.num_learners}: the leader is two logits; use num_learners "
                "0 or 1."
            )


def _check_bool(name: str, value: Any) -> None:
    """Only ``True`` or ``False`` (not 0 / 1 or a string)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be one of [True, False], got {value!r}.")
