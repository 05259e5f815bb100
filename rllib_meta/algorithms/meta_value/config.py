"""``LearningRuleConfig``: settings of MeVa, COLA, LOLA, HOLA and naive learning (paper 004).

Defaults are the paper's Logistic Game setting (section 5.1, App. D; reference.md section 4):
128 policy pairs, policy learning rate ``alpha = 1``, ``T = k = 50``, Adam 1e-3, 16 quantiles,
64 units, lambda 0.9 (the authors' final notebook; the paper's text says 0), no target network
(``target_inertia = 0``: the target is the current model), no exploration. The IPD setting
(App. E, reference.md 4) is in ``tuned_examples/meva_ipd.yaml``.
"""

from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

import envs
from rllib_meta.algorithms.checks import check_choice, check_int, check_number
from rllib_meta.algorithms.settings import set_provided
from rllib_meta.core.rule_fields import MODEL_RULES, RULES

SUPPORTED_ENVS = ("logistic_game", "ipd_exact", "zero_sum_bilinear")
# The arguments of LearningRuleConfig.training() beyond AlgorithmConfig's.
TRAINING_SETTINGS = (
    "rule",
    "policy_pairs",
    "policy_lr",
    "horizon",
    "stride",
    "strides_per_iteration",
    "lookahead_rate",
    "hola_order",
    "meta_gamma",
    "num_quantiles",
    "hidden_size",
    "td_lambda",
    "target_inertia",
    "exploration_flip_prob",
    "weight_decay",
)


class LearningRuleConfig(AlgorithmConfig):
    """Configuration of the learning-rule algorithms (:mod:`.algorithm`)."""

    def __init__(self, algo_class: type | None = None):
        from rllib_meta.algorithms.meta_value.algorithm import MeVa
        from rllib_meta.algorithms.meta_value.env_runner import PolicyPairEnvRunner

        super().__init__(algo_class=algo_class or MeVa)
        self.env_runner_cls = PolicyPairEnvRunner
        self.num_env_runners = 0
        self.rule = "meva"
        # The optimisation trajectories (Algorithm 1): B policy pairs, each restarted from the
        # game's initial distribution every T steps, sampled k steps (one stride) at a time.
        self.policy_pairs = 128
        self.policy_lr = 1.0
        self.horizon = 50
        self.stride = 50
        self.strides_per_iteration = 1
        # LOLA / HOLA look-ahead (App. B); for COLA the upper end of U[0, lookahead_rate].
        self.lookahead_rate = 1.0
        self.hola_order = 2
        # MeVa (sections 3-4): None draws gamma_i ~ Beta(1/2, 1/2) per player and pair.
        self.meta_gamma = None
        self.num_quantiles = 16
        self.hidden_size = 64
        self.td_lambda = 0.9
        self.target_inertia = 0.0
        self.exploration_flip_prob = 0.0
        # The model's optimiser: AdamW (weight_decay 0 is Adam).
        self.lr = 1e-3
        self.weight_decay = 0.0

    def training(
        self,
        *,
        rule: str | None = NotProvided,
        policy_pairs: int | None = NotProvided,
        policy_lr: float | None = NotProvided,
        horizon: int | None = NotProvided,
        stride: int | None = NotProvided,
        strides_per_iteration: int | None = NotProvided,
        lookahead_rate: float | None = NotProvided,
        hola_order: int | None = NotProvided,
        meta_gamma: float | None = NotProvided,
        num_quantiles: int | None = NotProvided,
        hidden_size: int | None = NotProvided,
        td_lambda: float | None = NotProvided,
        target_inertia: float | None = NotProvided,
        exploration_flip_prob: float | None = NotProvided,
        weight_decay: float | None = NotProvided,
        **kwargs,
    ) -> "LearningRuleConfig":
        """Learning-rule settings.

        ``rule``: naive | lola | hola | cola | meva. ``policy_pairs`` (B), ``policy_lr``
        (alpha of Alg. 1, the step size of the policies), ``horizon`` (T), ``stride`` (k),
        ``strides_per_iteration`` (samples and model updates per training iteration; T / k is
        one outer loop of Alg. 1). ``lookahead_rate``: LOLA/HOLA's alpha, COLA's largest
        alpha. ``meta_gamma``: MeVa's gamma (None: Beta(1/2, 1/2) draws, section 4.2).
        ``td_lambda``, ``target_inertia`` (rho), ``exploration_flip_prob`` (section 4.3),
        ``num_quantiles`` (M), ``hidden_size``, ``weight_decay`` (AdamW, with ``lr``).
        """
        super().training(**kwargs)
        set_provided(self, TRAINING_SETTINGS, locals())
        return self

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "hidden_size": self.hidden_size,
            "num_quantiles": self.num_quantiles,
        }

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        from rllib_meta.algorithms.meta_value.rl_module import LearningRuleModule

        return RLModuleSpec(module_class=LearningRuleModule)

    def get_default_learner_class(self) -> type:
        from rllib_meta.algorithms.meta_value.learner import LearningRuleLearner

        return LearningRuleLearner

    def validate(self) -> None:
        super().validate()
        check_choice("env", self.env, SUPPORTED_ENVS)
        check_choice("rule", self.rule, RULES)
        for name in ("policy_pairs", "horizon", "stride", "strides_per_iteration"):
            check_int(name, getattr(self, name), minimum=1)
        for name in ("num_quantiles", "hidden_size"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("hola_order", self.hola_order, minimum=1)
        for name in ("policy_lr", "lr"):
            check_number(name, getattr(self, name), low=0.0, low_open=True)
        check_number("lookahead_rate", self.lookahead_rate, low=0.0)
        check_number("weight_decay", self.weight_decay, low=0.0)
        for name in ("td_lambda", "target_inertia", "exploration_flip_prob"):
            check_number(name, getattr(self, name), low=0.0, high=1.0)
        if self.meta_gamma is not None:
            check_number("meta_gamma", self.meta_gamma, low=0.0, high=1.0)
        if self.num_learners > 1:
            raise ValueError(
                f"num_learners={self.num_learners}: the learning-rule models are small and "
                "train on one Learner; use num_learners 0 or 1."
            )
        if self.policy_pairs < max(self.num_env_runners, 1):
            raise ValueError(
                f"policy_pairs={self.policy_pairs} is smaller than num_env_runners="
                f"{self.num_env_runners}: every EnvRunner needs at least one policy pair."
            )
        if self.rule in MODEL_RULES and not envs.make(self.env, **self.env_config).game.symmetric:
            raise ValueError(
                f"rule {self.rule!r} shares one model between both players, which needs a "
                f"symmetric game (f_1(a, b) = f_2(b, a)); {self.env!r} is not."
            )
