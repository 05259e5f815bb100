"""``FollowerLearningDemoConfig``: settings of the follower reset-vs-continuous demonstration
(paper 003, Appendix B, Fig. 3) on the single-shot Battle of the Sexes.

The paper gives no hyperparameters for this experiment (only "a standard inner-loop outer-loop
approach" with a tabular Q-learning follower); the defaults below are this implementation's:
10 follower episodes per leader update, follower alpha 0.1 and epsilon 0.1, leader Adam 0.05,
the leader's batch made of the plays during the follower's learning. docs/results.md reports
how the outcome depends on them.
"""

from rllib_meta.algorithms.base.config import Components, MetaAlgorithmConfig
from rllib_meta.algorithms.base.settings import (
    Setting,
    boolean,
    choice,
    fraction,
    integer,
    positive,
)

LEADER_BATCHES = ("follower_learning", "after_learning")


class FollowerLearningDemoConfig(MetaAlgorithmConfig):
    """Configuration of :class:`~.algorithm.FollowerLearningDemo`."""

    COMPONENTS = Components(
        "FollowerLearningDemo", "LeaderLearner", "LeaderModule", "FollowerLearningEnvRunner"
    )
    SUPPORTED_ENVS = ("battle_of_sexes",)
    SINGLE_LEARNER_REASON = "the leader is two logits"
    RLLIB_SETTINGS = {
        "env_config": Setting({"scaled": True}),
        "lr": Setting(0.05, positive()),  # the leader's Adam step size
    }
    SETTINGS = {
        "follower_reset": Setting(
            True,
            boolean(),
            "zero the follower's Q-table before every leader update (False: it keeps learning)",
        ),
        "follower_episodes": Setting(10, integer(1), "follower episodes per leader update"),
        "follower_alpha": Setting(0.1, fraction(), "the follower's Q-learning step size"),
        "follower_epsilon": Setting(0.1, fraction(), "the follower's exploration"),
        "leader_batch": Setting(
            "follower_learning",
            choice(*LEADER_BATCHES),
            "the leader's PG batch: the follower's learning episodes, or fresh plays after",
        ),
        "leader_batch_size": Setting(100, integer(1), "fresh plays of 'after_learning'"),
    }
