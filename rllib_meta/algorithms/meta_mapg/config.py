"""``MetaMAPGConfig``: every setting of Meta-MAPG and its baselines (paper 001 / 000 App. I).

Defaults are the paper's IPD setting (000, Table 1; reference.md section 2): K = 64
trajectories per chain step, H = 150 (the env's horizon), L = 7, gamma 0.96, GAE lambda 0.95,
actor lr 1e-4, critic lr 1.5e-4, initial inner learning rate 0.1 (learned), the peers' inner
learning rate 1.0, entropy bonus 0.5 on the first batch, gradient-norm clip 10, PCGrad over
the chains of one update (the paper's 5 parallel workers: ``chains_per_iteration = 5``).
"""

from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from rllib_meta.algorithms.checks import check_choice, check_int
from rllib_meta.algorithms.meta_mapg.meta_gradient import META_GRADIENTS
from rllib_meta.algorithms.meta_mapg.objectives import OUTER_ESTIMATORS
from rllib_meta.algorithms.settings import set_provided

SUPPORTED_ENVS = ("ipd", "rps")
SPLITS = ("train", "val", "test", "test_ood")
# The arguments of MetaMAPGConfig.training() beyond AlgorithmConfig's.
TRAINING_SETTINGS = (
    "chain_length",
    "trajectories_per_step",
    "chains_per_iteration",
    "inner_learning_rate",
    "learn_inner_learning_rates",
    "peer_learning_rate",
    "actor_lr",
    "critic_lr",
    "adam_eps",
    "gae_lambda",
    "entropy_coeff",
    "use_pcgrad",
    "outer_estimator",
    "meta_gradient",
    "own_learning",
    "peer_learning",
    "opponent_modeling",
    "lookahead",
    "hidden_size",
    "train_split",
    "validation_split",
    "validation_interval",
    "validation_chains",
)


class MetaMAPGConfig(AlgorithmConfig):
    """Configuration of :class:`~rllib_meta.algorithms.meta_mapg.algorithm.MetaMAPG`."""

    def __init__(self, algo_class: type | None = None):
        from rllib_meta.algorithms.meta_mapg.algorithm import MetaMAPG
        from rllib_meta.algorithms.meta_mapg.env_runner import MetaMAPGEnvRunner

        super().__init__(algo_class=algo_class or MetaMAPG)
        self.env_runner_cls = MetaMAPGEnvRunner
        self.num_env_runners = 0
        self.gamma = 0.96
        self.grad_clip = 10.0
        # The chain (Section 2): K trajectories per joint policy, L joint updates.
        self.chain_length = 7
        self.trajectories_per_step = 64
        self.chains_per_iteration = 5
        # Inner loop (Eq. 4).
        self.inner_learning_rate = 0.1
        self.learn_inner_learning_rates = True
        self.peer_learning_rate = 1.0
        # Outer loop (Eq. 6).
        self.actor_lr = 1e-4
        self.critic_lr = 1.5e-4
        self.adam_eps = 1e-3  # AMSGrad with eps 1e-3, as the reference code
        self.gae_lambda = 0.95
        self.entropy_coeff = 0.5
        self.use_pcgrad = True
        self.outer_estimator = "dice"
        self.meta_gradient = "meta"
        self.own_learning = True
        self.peer_learning = True
        self.opponent_modeling = False
        self.lookahead = 0  # > 0: LOLA-DiCE look-ahead steps in the meta-agent's updates
        self.hidden_size = 64
        # Personas (App. E.1-E.2) and meta-validation (Algorithm 1; App. D model selection).
        self.train_split = "train"
        self.validation_split = "val"
        self.validation_interval = 10
        self.validation_chains = 0  # 0: one chain per validation persona

    def training(
        self,
        *,
        chain_length: int | None = NotProvided,
        trajectories_per_step: int | None = NotProvided,
        chains_per_iteration: int | None = NotProvided,
        inner_learning_rate: float | None = NotProvided,
        learn_inner_learning_rates: bool | None = NotProvided,
        peer_learning_rate: float | None = NotProvided,
        actor_lr: float | None = NotProvided,
        critic_lr: float | None = NotProvided,
        adam_eps: float | None = NotProvided,
        gae_lambda: float | None = NotProvided,
        entropy_coeff: float | None = NotProvided,
        use_pcgrad: bool | None = NotProvided,
        outer_estimator: str | None = NotProvided,
        meta_gradient: str | None = NotProvided,
        own_learning: bool | None = NotProvided,
        peer_learning: bool | None = NotProvided,
        opponent_modeling: bool | None = NotProvided,
        lookahead: int | None = NotProvided,
        hidden_size: int | None = NotProvided,
        train_split: str | None = NotProvided,
        validation_split: str | None = NotProvided,
        validation_interval: int | None = NotProvided,
        validation_chains: int | None = NotProvided,
        **kwargs,
    ) -> "MetaMAPGConfig":
        """Meta-MAPG settings (see the class attributes for their meaning and defaults).

        ``outer_estimator``: "dice" (default), "theorem" or "reference" (objectives.py);
        ``meta_gradient``: "meta" (Eq. 6), "reinforce" or "lola" (the baselines' objectives
        on the first trajectories);
        ``own_learning`` / ``peer_learning`` switch Eq. 6's terms (Meta-PG: peer off;
        the "no own learning" ablation: own off); ``opponent_modeling`` infers the peers'
        parameters from their actions (App. B); ``lookahead`` > 0 makes the meta-agent's
        inner updates LOLA-DiCE steps with that many peer look-ahead steps (LOLADiCE).
        """
        super().training(**kwargs)
        set_provided(self, TRAINING_SETTINGS, locals())
        return self

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return {
            "chain_length": self.chain_length,
            "inner_learning_rate": self.inner_learning_rate,
            "hidden_size": self.hidden_size,
        }

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        from rllib_meta.algorithms.meta_mapg.rl_module import MetaAgentRLModule

        return RLModuleSpec(module_class=MetaAgentRLModule)

    def get_default_learner_class(self) -> type:
        from rllib_meta.algorithms.meta_mapg.learner import MetaMAPGLearner

        return MetaMAPGLearner

    def validate(self) -> None:
        super().validate()
        check_choice("env", self.env, SUPPORTED_ENVS)
        check_choice("outer_estimator", self.outer_estimator, OUTER_ESTIMATORS)
        check_choice("meta_gradient", self.meta_gradient, META_GRADIENTS)
        check_choice("train_split", self.train_split, SPLITS)
        check_choice("validation_split", self.validation_split, SPLITS)
        for name in ("chain_length", "trajectories_per_step", "chains_per_iteration"):
            check_int(name, getattr(self, name), minimum=1)
        for name in ("validation_interval", "validation_chains", "lookahead"):
            check_int(name, getattr(self, name), minimum=0)
        check_int("hidden_size", self.hidden_size, minimum=1)
        for name in ("actor_lr", "critic_lr", "adam_eps", "peer_learning_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name} must be a number > 0, got {value!r}.")
        if not 0.0 <= self.gae_lambda <= 1.0 or not 0.0 <= self.gamma <= 1.0:
            raise ValueError(
                f"gamma and gae_lambda must lie in [0, 1], got {self.gamma}, {self.gae_lambda}."
            )
        if self.opponent_modeling and self.lookahead:
            raise ValueError("opponent_modeling and lookahead cannot be combined.")
        if self.opponent_modeling and not self.peer_learning:
            raise ValueError(
                "opponent_modeling infers peers for the peer-learning term: "
                "it needs peer_learning=True."
            )
        if self.num_learners > self.chains_per_iteration:
            raise ValueError(
                f"num_learners={self.num_learners} exceeds chains_per_iteration="
                f"{self.chains_per_iteration}: every Learner needs at least one chain."
            )
