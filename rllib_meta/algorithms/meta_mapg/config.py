"""``MetaMAPGConfig``: every setting of Meta-MAPG and its baselines (paper 001 / 000 App. I).

Defaults are the paper's IPD setting (paper 000, Table 1): K = 64 trajectories per chain step,
H = 150 (the env's horizon), L = 7, gamma 0.96, GAE lambda 0.95, actor lr 1e-4, critic lr
1.5e-4, initial inner learning rate 0.1 (learned), the peers' inner learning rate 1.0, entropy
bonus 0.5 on the first batch, gradient-norm clip 10, PCGrad over the chains of one update (the
paper's 5 parallel workers: ``chains_per_iteration = 5``).
"""

from rllib_meta.algorithms.base.config import Components, MetaAlgorithmConfig
from rllib_meta.algorithms.base.settings import (
    Setting,
    boolean,
    choice,
    fraction,
    integer,
    number,
    optional,
    positive,
)
from rllib_meta.algorithms.meta_mapg.meta_gradient import META_GRADIENTS
from rllib_meta.algorithms.meta_mapg.objectives import OUTER_ESTIMATORS

SPLITS = ("train", "val", "test", "test_ood")
CHEETAH_ENVS = ("halfcheetah_2x3",)  # sampled by MetaMAPGCheetahEnvRunner (cheetah.py)
TEAMMATES_COMMAND = "python -m rllib_meta.algorithms.meta_mapg.teammates"


def _path(name: str, value) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a directory path (a non-empty string), got {value!r}")


class MetaMAPGConfig(MetaAlgorithmConfig):
    """Configuration of :class:`~rllib_meta.algorithms.meta_mapg.algorithm.MetaMAPG`."""

    COMPONENTS = Components("MetaMAPG", "MetaMAPGLearner", "MetaAgentRLModule", "MetaMAPGEnvRunner")
    MODEL_SETTINGS = ("chain_length", "inner_learning_rate", "hidden_size")
    SUPPORTED_ENVS = ("ipd", "rps", "halfcheetah_2x3")
    RLLIB_SETTINGS = {
        "gamma": Setting(0.96, fraction()),
        "grad_clip": Setting(10.0, optional(positive())),
    }
    SETTINGS = {
        # The chain (Section 2): K trajectories per joint policy, L joint updates.
        "chain_length": Setting(7, integer(1), "L, joint policy updates per chain"),
        "trajectories_per_step": Setting(64, integer(1), "K, trajectories per joint policy"),
        "chains_per_iteration": Setting(
            5, integer(1), "chains per meta-gradient step (PCGrad across them)"
        ),
        # Inner loop (Eq. 4).
        "inner_learning_rate": Setting(
            0.1, positive(), "initial value of the per-step inner learning rates"
        ),
        "learn_inner_learning_rates": Setting(
            True, boolean(), "learn the inner learning rates with phi_0 (App. D.1)"
        ),
        "peer_learning_rate": Setting(1.0, positive(), "the peers' policy-gradient step"),
        # Outer loop (Eq. 6).
        "actor_lr": Setting(1e-4, positive(), "outer learning rate of the policy"),
        "critic_lr": Setting(1.5e-4, positive(), "learning rate of the value network"),
        "adam_eps": Setting(1e-3, positive(), "AMSGrad's eps (1e-3, as the reference code)"),
        "gae_lambda": Setting(0.95, fraction(), "GAE lambda of the inner and outer objectives"),
        "entropy_coeff": Setting(0.5, number(0.0), "entropy bonus on the first batch"),
        "use_pcgrad": Setting(True, boolean(), "PCGrad across the chains (App. C.2)"),
        "outer_estimator": Setting(
            "dice", choice(*OUTER_ESTIMATORS), "estimator of Eq. 6 (objectives.py)"
        ),
        "meta_gradient": Setting(
            "meta",
            choice(*META_GRADIENTS),
            "meta (Eq. 6), or the baselines' objectives on the first trajectories",
        ),
        "own_learning": Setting(True, boolean(), "Eq. 6's own-learning term"),
        "peer_learning": Setting(True, boolean(), "Eq. 6's peer-learning term"),
        "opponent_modeling": Setting(
            False, boolean(), "infer the peers' parameters from their actions (App. B)"
        ),
        "lookahead": Setting(
            0, integer(0), "LOLA-DiCE look-ahead steps in the meta-agent's inner updates"
        ),
        "hidden_size": Setting(64, integer(1), "units of the policy and value LSTMs"),
        # Personas (App. E.1-E.2) and meta-validation (Algorithm 1; App. D model selection).
        "train_split": Setting("train", choice(*SPLITS), "personas of meta-training"),
        "validation_split": Setting("val", choice(*SPLITS), "personas of meta-validation"),
        "validation_interval": Setting(10, integer(0), "meta-validate every N iterations"),
        "validation_chains": Setting(
            0, integer(0), "chains per validation (0: one per validation persona)"
        ),
        # 2-agent HalfCheetah (App. E.3): the teammate population's directory.
        "teammate_population": Setting(
            None, optional(_path), "halfcheetah_2x3: directory of the teammate population"
        ),
    }

    def validate(self) -> None:
        self._use_the_env_runner_of_the_env()
        super().validate()
        if self.env in CHEETAH_ENVS and self.teammate_population is None:
            raise ValueError(
                f"env {self.env!r} needs teammate_population, the directory of a teammate "
                f"population; build one with `{TEAMMATES_COMMAND} --out DIR`"
            )
        if self.opponent_modeling and self.lookahead:
            raise ValueError("opponent_modeling and lookahead cannot be combined.")
        if self.opponent_modeling and not self.peer_learning:
            raise ValueError(
                "opponent_modeling infers peers for the peer-learning term: "
                "it needs peer_learning=True."
            )

    def _use_the_env_runner_of_the_env(self) -> None:
        """2-agent HalfCheetah samples with ``MetaMAPGCheetahEnvRunner``, the matrix games
        with ``MetaMAPGEnvRunner`` (an EnvRunner class set by hand is left alone)."""
        from rllib_meta.algorithms.meta_mapg import env_runner

        ours = (env_runner.MetaMAPGEnvRunner, env_runner.MetaMAPGCheetahEnvRunner)
        if self.env_runner_cls in ours:
            cheetah = self.env in CHEETAH_ENVS
            self.env_runner_cls = ours[1] if cheetah else ours[0]

    def validate_num_learners(self) -> None:
        if self.num_learners > self.chains_per_iteration:
            raise ValueError(
                f"num_learners={self.num_learners} exceeds chains_per_iteration="
                f"{self.chains_per_iteration}: every Learner needs at least one chain."
            )
