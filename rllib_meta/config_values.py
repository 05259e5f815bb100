"""The value of every config key checked before Ray starts: its type, and the range of the
common settings, for RLlib's own algorithms as for ours.

RLlib 2.60 takes ``lr: -1`` or ``gamma: 1.5`` silently and fails on ``num_epochs: "one"``
only inside a trial. Here each key gets one check (:func:`value_check`), the first of:

1. the ``check`` of the setting an rllib-meta config declares for it (``SETTINGS`` and
   ``RLLIB_SETTINGS`` of ``algorithms/base/config.py``);
2. :data:`RLLIB_CHECKS`, the ranges of RLlib's common settings (and any other RLlib
   learning rate, ``*_lr``), written with the same check functions
   (``algorithms/base/settings.py``);
3. the type of the key: what the builder method's annotation declares (``Optional[int]``),
   or the type of the config's default where the annotation says nothing or disagrees with
   the default (RLlib's ``offline_sampling: Optional[str] = False``); an int refuses
   ``"one"``, a float takes an int, a ``None`` default without annotation takes anything,
   dict and list defaults need a mapping and a list.
"""

import collections.abc
import functools
import inspect
import types
import typing
from collections.abc import Mapping
from typing import Any

from rllib_meta.algorithms.base.settings import (
    Check,
    fraction,
    integer,
    number,
    optional,
    or_choice,
    positive,
    schedule,
)

# RLlib's marker default of a deprecated builder argument (ray._common.deprecation).
DEPRECATED_VALUE = -1

LEARNING_RATE = schedule(number(0.0))
# Ranges of RLlib's common settings (where a config class has the key).
RLLIB_CHECKS: dict[str, Check] = {
    "lr": LEARNING_RATE,
    "gamma": fraction(),
    "lambda_": fraction(),
    "tau": fraction(),
    "grad_clip": optional(positive()),
    "entropy_coeff": schedule(number(0.0)),
    "vf_loss_coeff": number(0.0),
    "kl_coeff": number(0.0),
    "kl_target": number(0.0),
    "clip_param": positive(),
    "vf_clip_param": positive(),
    "train_batch_size": integer(1),
    "train_batch_size_per_learner": optional(integer(1)),
    "minibatch_size": optional(integer(1)),
    "num_epochs": integer(1),
    "num_env_runners": integer(0),
    "num_envs_per_env_runner": integer(1),
    "num_cpus_per_env_runner": number(0.0),  # fractions of a CPU are Ray resources too
    "num_gpus_per_env_runner": number(0.0),
    "num_learners": integer(0),
    "num_gpus_per_learner": number(0.0),
    "num_cpus_per_learner": or_choice(number(0.0), "auto"),
    "max_requests_in_flight_per_env_runner": integer(1),
    "rollout_fragment_length": or_choice(integer(1), "auto"),
    "sample_timeout_s": optional(positive()),
    "seed": optional(integer(0)),  # numpy refuses negative seeds
    "evaluation_interval": optional(integer(0)),
    "evaluation_num_env_runners": integer(0),
    "evaluation_duration": or_choice(integer(1), "auto"),
    "num_steps_sampled_before_learning_starts": integer(0),
    "target_network_update_freq": integer(0),
    "training_intensity": optional(positive()),
}

NONE_TYPE = type(None)
# What a YAML or JSON value can be, and how a message names it.
KIND_NAMES = {
    bool: "True or False",
    int: "an integer",
    float: "a number",
    str: "a string",
    dict: "a mapping",
    list: "a list",
    NONE_TYPE: "null (None)",
}


@functools.cache
def builder_annotations(config_cls: type, methods: tuple[str, ...]) -> dict[str, Any]:
    """Each builder-method argument -> its annotation (``inspect.Parameter.empty`` if none);
    a subclass's method wins over its base's."""
    annotations: dict[str, Any] = {}
    for klass in reversed(config_cls.__mro__):
        for method in methods:
            function = klass.__dict__.get(method)
            if function is not None:
                for parameter in inspect.signature(function).parameters.values():
                    annotations[parameter.name] = parameter.annotation
    return annotations


def declared_kinds(annotation: Any) -> set[type] | None:
    """The types a builder argument's annotation allows (a class: its instances); None where
    it allows something that cannot be checked (``Any``, a callable, ``Type[...]``, a forward
    reference)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds: set[type] = set()
        for member in typing.get_args(annotation):
            member_kinds = declared_kinds(member)
            if member_kinds is None:
                return None
            kinds |= member_kinds
        return kinds
    base = origin or annotation
    if base in (NONE_TYPE, None):
        return {NONE_TYPE}
    if base in (bool, int, float, str):
        return {base}
    if base in (dict, Mapping, collections.abc.MutableMapping):
        return {dict}
    if base in (list, tuple, set, collections.abc.Sequence, collections.abc.Collection):
        return {list}
    if inspect.isclass(base) and base not in (type, object) and not typing.get_args(annotation):
        return {base}
    return None


def default_kinds(default: Any) -> set[type] | None:
    """The types a default value implies; None (anything) for ``None`` and for objects."""
    for kind in (bool, int, float, str):
        if type(default) is kind:
            return {kind}
    if isinstance(default, Mapping):
        return {dict}
    if isinstance(default, list | tuple):
        return {list}
    return None


def is_kind(value: Any, kind: type) -> bool:
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float)
    if kind is dict:
        return isinstance(value, Mapping)
    if kind is list:
        return isinstance(value, list | tuple)
    return isinstance(value, kind)


def type_check(kinds: set[type]) -> Check:
    """A check that ``value`` is of one of ``kinds``."""

    def check_kind(name: str, value: Any) -> None:
        if any(is_kind(value, kind) for kind in kinds):
            return
        named = [KIND_NAMES[k] for k in KIND_NAMES if k in kinds]
        named += sorted(f"a {k.__name__}" for k in kinds if k not in KIND_NAMES)
        expected = " or ".join(named)
        raise ValueError(f"{name} must be {expected}, got {type(value).__name__} {value!r}.")

    return check_kind


def yaml_number_hint(value: Any) -> str:
    """Why a number may have arrived as a string: YAML 1.1 (PyYAML) reads ``1e-4`` as one."""
    if not isinstance(value, str) or not any(c.isdigit() for c in value):  # not "inf", "nan"
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    return f" (YAML reads {value} as a string: write a number with a dot, e.g. 1.0e-4)"


def _default_of(defaults: Any, key: str) -> Any:
    """The config's default value of ``key`` (RLlib keeps some as ``_key`` behind a
    property), without reading properties that raise for deprecated names."""
    attributes = vars(defaults)
    return attributes.get(key, attributes.get(f"_{key}"))


def value_check(defaults: Any, key: str, methods: tuple[str, ...]) -> Check | None:
    """The one check of config key ``key`` of ``defaults``'s class (see the module docstring);
    None where nothing can be checked."""
    config_cls = type(defaults)
    every_setting = getattr(config_cls, "every_setting", None)
    setting = (every_setting() if every_setting is not None else {}).get(key)
    if setting is not None and setting.check is not None:
        return setting.check
    declared = getattr(config_cls, "declared_settings", None)
    if declared is not None and key in declared():  # ours, declared with no check: its type
        kinds = default_kinds(setting.default)
        return type_check(kinds) if kinds else None
    if key in RLLIB_CHECKS:
        return RLLIB_CHECKS[key]
    if key.endswith("_lr"):  # RLlib's other learning rates (SAC's actor_lr, critic_lr, ...)
        return LEARNING_RATE
    annotation = builder_annotations(config_cls, methods).get(key, inspect.Parameter.empty)
    default = _default_of(defaults, key)
    if annotation is inspect.Parameter.empty:
        if default == DEPRECATED_VALUE:  # RLlib refuses deprecated arguments itself
            return None
        kinds = default_kinds(default)
    else:
        kinds = declared_kinds(annotation)
        if kinds is not None:
            kinds |= default_kinds(default) or set()
    return type_check(kinds) if kinds else None
