"""A config mapping (from YAML or ``--config`` JSON) -> a validated RLlib ``AlgorithmConfig``.

RLlib 2.60's ``AlgorithmConfig.update_from_dict`` silently keeps unknown keys, so a typo in a
tuned example would train with the default instead. Here every key must be an argument of
one of the algorithm config class's builder methods (``environment()``, ``training()``,
``env_runners()``, ...), or a setting an rllib-meta config declares (which its
``training()`` takes), and is applied through that method, the same path as RLlib's Python
API. Unknown keys raise :class:`ConfigError` with a did-you-mean (names of older RLlib
versions and other libraries, ``learning_rate``, ``num_rollout_workers``, ..., with the
name to write). Every value, and every option of a search space, passes its key's type and
range check (``config_values.py``). Then the env must be one the algorithm supports, RLlib's
own ``validate()`` runs on the result and the env config is checked by building the env:
once with one example value per search space, and once more per other search-space option.
"""

import dataclasses
import functools
import inspect
import re
from collections.abc import Iterator, Mapping
from typing import Any

from rllib_meta.algorithms.base.settings import check_choice
from rllib_meta.config_values import builder_annotations, value_check, yaml_number_hint
from rllib_meta.errors import ConfigError, unknown_choice
from rllib_meta.registry import import_object
from rllib_meta.search_spaces import is_search_space, parse_search_space
from rllib_meta.yaml_loader import location

# Applied in this order; where two methods take the same argument, the later one wins.
BUILDER_METHODS = (
    "environment",
    "env_runners",
    "learners",
    "training",
    "multi_agent",
    "rl_module",
    "evaluation",
    "callbacks",
    "resources",
    "framework",
    "reporting",
    "checkpointing",
    "debugging",
    "fault_tolerance",
    "offline_data",
    "api_stack",
)
# Classic config-dict names -> builder-method argument names.
KEY_ALIASES = {
    "lambda": "lambda_",
    "input": "input_",
    "num_workers": "num_env_runners",
    "callbacks": "callbacks_class",
}
# Names of older RLlib versions (and other libraries) -> the builder argument to write. Where
# the old name is still an argument (RLlib refuses it as deprecated) or unknown, the error
# names the new one.
RENAMED_KEYS = {
    "learning_rate": "lr",
    "discount": "gamma",
    "gae_lambda": "lambda_",
    "num_rollout_workers": "num_env_runners",
    "num_envs_per_worker": "num_envs_per_env_runner",
    "num_cpus_per_worker": "num_cpus_per_env_runner",
    "num_gpus_per_worker": "num_gpus_per_env_runner",
    "evaluation_num_workers": "evaluation_num_env_runners",
    "recreate_failed_workers": "restart_failed_env_runners",
    "ignore_worker_failures": "ignore_env_runner_failures",
    "max_num_worker_restarts": "max_num_env_runner_restarts",
    "num_learner_workers": "num_learners",
    "num_cpus_per_learner_worker": "num_cpus_per_learner",
    "num_gpus_per_learner_worker": "num_gpus_per_learner",
    "sgd_minibatch_size": "minibatch_size",
    "num_sgd_iter": "num_epochs",
    "batch_size": "train_batch_size_per_learner",
    "n_epochs": "num_epochs",
    "ent_coef": "entropy_coeff",
    "vf_coef": "vf_loss_coeff",
    "clip_range": "clip_param",
    "max_grad_norm": "grad_clip",
}
# Keys whose value is a mapping of ``multi_agent()`` arguments (classic ``multiagent:``).
NESTED_GROUPS = {"multiagent": "multi_agent", "multi_agent": "multi_agent"}
# Keys that take a class or a function: ``"package.module:object"`` strings resolve there.
OBJECT_KEYS = {"env", "rl_module_spec", "policies_to_train", "module_class", "catalog_class"}
OBJECT_KEY_SUFFIXES = ("_fn", "_class", "_cls", "_connector", "_function", "_creator")
OBJECT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


@functools.cache
def builder_keys(config_cls: type) -> dict[str, str]:
    """Every config key the class accepts -> the builder method that takes it."""
    keys: dict[str, str] = {}
    for method in BUILDER_METHODS:
        for klass in config_cls.__mro__:
            function = klass.__dict__.get(method)
            if function is None:
                continue
            for parameter in inspect.signature(function).parameters.values():
                if parameter.name != "self" and parameter.kind in (
                    parameter.POSITIONAL_OR_KEYWORD,
                    parameter.KEYWORD_ONLY,
                ):
                    keys[parameter.name] = method
    # rllib-meta's algorithms declare their settings once, in a table that training() takes.
    declared = getattr(config_cls, "declared_settings", None)
    for name in declared() if declared is not None else ():
        keys[name] = "training"
    return keys


def takes_object(key: str) -> bool:
    """True for config keys whose value is a class or a function."""
    return key in OBJECT_KEYS or key.startswith("callbacks") or key.endswith(OBJECT_KEY_SUFFIXES)


def _where(mapping: Mapping, key: str, path: str, origin: str) -> str:
    """``"file.yaml:12 (config.lr)"``: where a key was written (else ``origin``), and its path."""
    base = location(mapping, key) or origin
    return f"{base} ({path})" if base else path


def _convert(key: str, value: Any, where: str) -> tuple[Any, Any]:
    """One config value -> (value for Tune, example value), resolving search spaces and
    ``"module:object"`` strings."""
    if is_search_space(value):
        space = parse_search_space(value, where)
        return space.tune_value, space.example
    if isinstance(value, str) and takes_object(key) and OBJECT_PATH.match(value):
        try:
            obj = import_object(value)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        return obj, obj
    if isinstance(value, Mapping) and key != "rl_module_spec":
        pairs = {
            k: _convert(k if key != "env_config" else "", v, f"{where}.{k}")
            for k, v in value.items()
        }
        return {k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()}
    return value, value


def _module_spec(value: Any, where: str) -> Any:
    """``rl_module_spec`` written as a mapping -> ``RLModuleSpec`` / ``MultiRLModuleSpec``."""
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    if not isinstance(value, Mapping):
        return value

    def build(spec_cls: type, fields: Mapping, at: str) -> Any:
        allowed = [f.name for f in dataclasses.fields(spec_cls)]
        for name in fields:
            if name not in allowed:
                raise unknown_choice(f"{spec_cls.__name__} field", name, allowed, at)
        resolved = {k: _convert(k, v, f"{at}.{k}")[0] for k, v in fields.items()}
        return spec_cls(**resolved)

    if "rl_module_specs" in value:
        specs = value["rl_module_specs"]
        if not isinstance(specs, Mapping):
            raise ConfigError(f"{where}.rl_module_specs: expected a mapping of module IDs.")
        inner = {
            mid: build(RLModuleSpec, s, f"{where}.rl_module_specs.{mid}")
            for mid, s in specs.items()
        }
        rest = {k: v for k, v in value.items() if k != "rl_module_specs"}
        return build(MultiRLModuleSpec, {**rest, "rl_module_specs": inner}, where)
    return build(RLModuleSpec, value, where)


def _flatten(
    config: Mapping, valid: dict[str, str], path: str, origin: str, config_cls: type
) -> list[tuple[str, Any, str]]:
    """Validate key names -> ``(builder argument, raw value, location)`` triples."""
    owner = config_cls.__name__
    entries = []
    for raw_key, value in config.items():
        where = _where(config, raw_key, f"{path}.{raw_key}", origin)
        if raw_key in NESTED_GROUPS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: expected a mapping of multi_agent() arguments.")
            group = NESTED_GROUPS[raw_key]
            group_keys = {k: m for k, m in valid.items() if m == group}
            entries += _flatten(value, group_keys, f"{path}.{raw_key}", where, config_cls)
            continue
        key = KEY_ALIASES.get(raw_key, raw_key)
        renamed = RENAMED_KEYS.get(key)
        if key in valid and renamed in valid and _is_deprecated(config_cls, key):
            raise ConfigError(
                f"{where}: config key {raw_key!r} is deprecated in RLlib 2.60; write {renamed!r}."
            )
        if key not in valid:
            methods = ", ".join(f"{m}()" for m in sorted(set(valid.values())))
            allowed = f"the {len(valid)} arguments of {owner}'s builder methods ({methods})"
            raise unknown_choice(
                "config key",
                raw_key,
                valid,
                where,
                allowed=allowed,
                suggest=[renamed] if renamed else [],
            )
        entries.append((key, value, where))
    return entries


def _is_deprecated(config_cls: type, key: str) -> bool:
    """RLlib's deprecated builder arguments carry no annotation (and refuse any value)."""
    annotation = builder_annotations(config_cls, BUILDER_METHODS).get(key)
    return annotation is inspect.Parameter.empty


def _example(value: Any, where: str) -> Any:
    """``value`` (written at ``where``) with every search space in it replaced by its
    example value."""
    if is_search_space(value):
        return _example(parse_search_space(value, where).example, where)
    if isinstance(value, Mapping):
        return {key: _example(option, f"{where}.{key}") for key, option in value.items()}
    return value


def _options(value: Any, where: str, inner: str = "") -> Iterator[tuple[Any, str, Any]]:
    """Each search-space option in ``value`` (written at ``where``) in turn, every other
    search space at its example: ``(value with that option, where the option is, the
    option)``; ``inner`` is the option's path inside the value (``horizon.grid_search[1]``)."""
    if is_search_space(value):
        kind = next(iter(value))
        for index, option in enumerate(parse_search_space(value, where).options):
            path = f"{inner}.{kind}[{index}]" if inner else f"{kind}[{index}]"
            if _has_search_space(option):
                yield from _options(option, where, path)
            else:
                yield option, f"{where} {path}", option
    elif isinstance(value, Mapping):
        for key, nested in value.items():
            path = f"{inner}.{key}" if inner else str(key)
            for option, label, chosen in _options(nested, where, path):
                yield {**_example(value, where), key: option}, label, chosen


def _check_values(defaults: Any, entries: list[tuple[str, Any, str]]) -> None:
    """Every value, and every option of its search spaces, passes its key's check
    (``config_values.value_check``): a type for every key, a range for the common ones."""
    for key, value, where in entries:
        if takes_object(key) or key == "rl_module_spec":  # resolved (and checked) on apply
            continue
        check = value_check(defaults, key, BUILDER_METHODS)
        if check is None:
            continue
        example = (_example(value, where), where, None)
        for option, option_where, _ in [example, *_options(value, where)]:
            try:
                check(key, option)
            except ValueError as error:
                hint = yaml_number_hint(option)
                raise ConfigError(f"{option_where}: {str(error).rstrip('.')}{hint}.") from None


def _validate_options(
    defaults: Any, entries: list[tuple[str, Any, str]], source: Mapping, path: str, origin: str
) -> None:
    """The whole-config checks (:func:`_validate`) once more for each search-space option
    (every other at its example), so that no trial's config fails after Ray started."""
    for index, (key, value, where) in enumerate(entries):
        for option, option_where, chosen in _options(value, where):
            variant = [*entries[:index], (key, option, where), *entries[index + 1 :]]
            try:
                _validate(_apply(defaults, variant, pick=1), source, path, origin)
            except ConfigError as error:
                trials = f"in the trials of {option_where} = {chosen!r}"
                raise ConfigError(f"{error} ({trials})") from None


def _apply(defaults: Any, entries: list[tuple[str, Any, str]], pick: int) -> Any:
    """A copy of the algorithm's default config with every entry applied through its builder
    method. (A fresh ``config_cls()`` would lose defaults that an Algorithm subclass sets in
    ``get_default_config``, e.g. MetaPG's ``peer_learning=False``.)"""
    config = defaults.copy(copy_frozen=False)
    keys = builder_keys(type(defaults))
    for key, value, where in entries:
        converted = _convert(key, value, where)[pick]
        if key == "rl_module_spec":
            converted = _module_spec(value, where)
        try:
            getattr(config, keys[key])(**{key: converted})
        except (ValueError, TypeError) as error:
            raise ConfigError(f"{where}: invalid value {value!r}: {error}") from None
    _default_to_shared_module(config)
    return config


def _default_to_shared_module(config: Any) -> None:
    """rllib-meta envs are multi-agent; RLlib would treat a config without multi-agent
    settings as single-agent and fail on the dict spaces. Give every agent one shared module
    instead (self-play), as the user's own ``policies`` would."""
    import envs
    from rllib_meta.multi_agent import SHARED_MODULE_ID, shared_module

    if config.env_runner_cls is not None:  # the algorithm samples its own way (Meta-MAPG)
        return
    if isinstance(config.env, str) and config.env in envs.env_names() and not config.is_multi_agent:
        config.multi_agent(policies={SHARED_MODULE_ID}, policy_mapping_fn=shared_module)


def _has_search_space(value: Any) -> bool:
    if is_search_space(value):
        return True
    return isinstance(value, Mapping) and any(_has_search_space(v) for v in value.values())


def _check_model_config(config: Any, where: str) -> None:
    """With RLlib's default RLModules, ``model_config`` keys must be DefaultModelConfig fields."""
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    model_config = config._model_config
    if config._rl_module_spec is not None or not isinstance(model_config, Mapping):
        return
    allowed = [f.name for f in dataclasses.fields(DefaultModelConfig)]
    for key in model_config:
        if key not in allowed:
            raise unknown_choice("model_config key", key, allowed, where)


def _check_env(config: Any, where: str) -> None:
    """The env must be known; for rllib-meta envs, its env_config must build it."""
    import gymnasium as gym
    from ray.tune.registry import ENV_CREATOR, _global_registry

    import envs

    env = config.env
    if env is None:
        raise ConfigError(f"{where}: no environment: set `env:` in the experiment or its config.")
    if not isinstance(env, str):
        return
    if env in envs.env_names():
        try:
            envs.make(env, **dict(config.env_config)).close()
        except ValueError as error:  # bad settings, and missing extras (MissingExtraError)
            raise ConfigError(f"{where}: env_config of env {env!r}: {error}") from None
    elif not _global_registry.contains(ENV_CREATOR, env) and env not in gym.envs.registry:
        raise unknown_choice("environment", env, envs.env_names(), where)


def _check_supported_env(config: Any, where: str) -> None:
    """An algorithm made for some envs (``SUPPORTED_ENVS`` of an rllib-meta config) refuses
    others before their env_config is built with the algorithm's default settings of its own
    env (which would name keys the user never wrote)."""
    supported = getattr(type(config), "SUPPORTED_ENVS", ())
    if not supported:
        return
    try:
        check_choice("env", config.env, supported)  # as the config's own validate()
    except ValueError as error:
        owner = config.algo_class.__name__ if config.algo_class else type(config).__name__
        message = str(error).rstrip(".")
        raise ConfigError(f"{where}: {message} ({owner} supports only these envs).") from None


def _validate(config: Any, source: Mapping, path: str, origin: str) -> None:
    """The supported envs, the env and model_config checks, and RLlib's own ``validate()``."""
    _check_supported_env(config, _where(source, "env", f"{path}.env", origin))
    env_key = "env_config" if "env_config" in source else "env"
    _check_env(config, _where(source, env_key, f"{path}.{env_key}", origin))
    model_where = _where(source, "model_config", f"{path}.model_config", origin)
    _check_model_config(config, model_where)
    try:
        config.validate()
    except (ValueError, TypeError, KeyError) as error:
        where = f"{origin} ({path})" if origin else path
        raise ConfigError(f"{where}: invalid config: {error}") from None


def build_algorithm_config(
    defaults: Any, config: Mapping, origin: str = "", path: str = "config"
) -> tuple[Any, bool]:
    """Validate ``config`` against the class of ``defaults`` (the algorithm's default
    ``AlgorithmConfig``, from ``Algorithm.get_default_config()``) and apply it to a copy.

    ``origin`` (e.g. ``"exp.yaml:1"``) locates errors about keys whose own position is
    unknown; ``path`` is the config's place in the experiment. Returns
    ``(algorithm_config, has_search_spaces)``: the config carries Tune search spaces where the
    input had them (ready for ``to_dict()`` as a Tune param space); validation ran on a copy
    with one example value per search space.
    """
    config_cls = type(defaults)
    entries = _flatten(config, builder_keys(config_cls), path, origin, config_cls)
    _check_values(defaults, entries)
    example = _apply(defaults, entries, pick=1)
    _validate(example, config, path, origin)
    _validate_options(defaults, entries, config, path, origin)
    if not _has_search_space(config):
        return example, False
    return _apply(defaults, entries, pick=0), True
