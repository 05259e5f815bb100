"""``MetaAlgorithmConfig``: what every rllib-meta algorithm config shares.

A subclass declares, as class attributes:

* ``COMPONENTS``: the names of its Algorithm, Learner, RLModule and EnvRunner classes, in
  the ``algorithm.py``, ``learner.py``, ``rl_module.py`` and ``env_runner.py`` beside the
  config (imported when a config is built, so that a config module does not import its
  algorithm's heavy modules and no import cycle arises);
* ``SETTINGS``: its own settings, each declared once as a
  :class:`~rllib_meta.algorithms.base.settings.Setting` (default, check, meaning); they are
  accepted by ``training()`` and by the ``rllib`` command's key validation, and checked in
  ``validate()``;
* ``RLLIB_SETTINGS``: new defaults and checks for settings RLlib owns (``gamma``, ``lr``,
  ``grad_clip``, ``env``, ...), which RLlib's own builder methods keep accepting;
* ``MODEL_SETTINGS``: the settings the RLModule reads from its ``model_config``;
* ``SUPPORTED_ENVS`` (an algorithm that supports one env has it as its default env) and
  ``SINGLE_LEARNER_REASON`` (None: any number of Learners).

The algorithms sample through their own EnvRunners, so ``num_env_runners`` defaults to 0 (the
local runner samples) as for every RLlib algorithm whose sampling is not plain episodes.
"""

import copy
import functools
import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from rllib_meta.algorithms.base.settings import Setting, check_choice


@dataclass(frozen=True)
class Components:
    """The class names of an algorithm's Algorithm, Learner, RLModule and EnvRunner, found in
    the ``algorithm``, ``learner``, ``rl_module`` and ``env_runner`` modules of the package
    that declares them (the folder layout every algorithm shares)."""

    algorithm: str
    learner: str
    rl_module: str
    env_runner: str


class MetaAlgorithmConfig(AlgorithmConfig):
    """Base of the rllib-meta algorithm configs (see the module docstring)."""

    COMPONENTS: ClassVar[Components]
    SETTINGS: ClassVar[dict[str, Setting]] = {}
    RLLIB_SETTINGS: ClassVar[dict[str, Setting]] = {}
    MODEL_SETTINGS: ClassVar[tuple[str, ...]] = ()
    SUPPORTED_ENVS: ClassVar[tuple[str, ...]] = ()
    # Why one Learner suffices (the refusal of num_learners > 1 says it); None: no limit here.
    SINGLE_LEARNER_REASON: ClassVar[str | None] = None

    def __init__(self, algo_class: type | None = None):
        super().__init__(algo_class=algo_class or self.component("algorithm"))
        self.env_runner_cls = self.component("env_runner")
        self.num_env_runners = 0
        if len(self.SUPPORTED_ENVS) == 1:
            self.env = self.SUPPORTED_ENVS[0]
        for name, setting in self.every_setting().items():
            setattr(self, name, copy.deepcopy(setting.default))

    @classmethod
    def component(cls, kind: str) -> type:
        """The class named in ``COMPONENTS.<kind>``, from module ``<kind>`` of the package
        of the config class that declares ``COMPONENTS``."""
        owner = next(klass for klass in cls.__mro__ if "COMPONENTS" in vars(klass))
        package = owner.__module__.rpartition(".")[0]
        module = importlib.import_module(f"{package}.{kind}")
        return getattr(module, getattr(owner.COMPONENTS, kind))

    @classmethod
    @functools.cache
    def declared_settings(cls) -> dict[str, Setting]:
        """The class's own ``SETTINGS``, with those of its config base classes."""
        return cls._merged("SETTINGS")

    @classmethod
    @functools.cache
    def every_setting(cls) -> dict[str, Setting]:
        """``declared_settings()`` and the ``RLLIB_SETTINGS`` (RLlib's, with our defaults)."""
        return {**cls._merged("RLLIB_SETTINGS"), **cls._merged("SETTINGS")}

    @classmethod
    def _merged(cls, table: str) -> dict[str, Setting]:
        settings: dict[str, Setting] = {}
        for klass in reversed(cls.__mro__):
            settings.update(vars(klass).get(table, {}))
        return settings

    def training(self, **kwargs) -> "MetaAlgorithmConfig":
        """RLlib's training settings plus the declared ``SETTINGS`` (a keyword left out, or
        given as RLlib's ``NotProvided``, keeps its value). An unknown keyword is refused
        by RLlib's ``training()``."""
        declared = self.declared_settings()
        own = {name: kwargs.pop(name) for name in list(kwargs) if name in declared}
        super().training(**kwargs)
        for name, value in own.items():
            if value is not NotProvided:
                setattr(self, name, value)
        return self

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.MODEL_SETTINGS}

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=self.component("rl_module"))

    def get_default_learner_class(self) -> type:
        return self.component("learner")

    def validate(self) -> None:
        """RLlib's checks, the supported envs, every declared check and the Learner limit.
        Subclasses add the checks that relate several settings."""
        super().validate()
        check_choice("env", self.env, self.SUPPORTED_ENVS)
        for name, setting in self.every_setting().items():
            setting.validate(name, getattr(self, name))
        self.validate_num_learners()

    def validate_num_learners(self) -> None:
        if self.SINGLE_LEARNER_REASON is not None and self.num_learners > 1:
            raise ValueError(
                f"num_learners={self.num_learners}: {self.SINGLE_LEARNER_REASON}; use "
                "num_learners 0 or 1."
            )
