"""Run a prepared experiment through Ray Tune, show progress, report the checkpoints."""

import time
from collections.abc import Mapping
from typing import Any

from rllib_meta.errors import ConfigError
from rllib_meta.experiment import PreparedExperiment, checkpoint_config_of


def _lookup(result: Mapping, *paths: str) -> Any:
    """First value found among slash-separated metric paths (metrics move between versions)."""
    for path in paths:
        value: Any = result
        for part in path.split("/"):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None:
            return value
    return None


def progress_line(trial_id: str, result: Mapping) -> str:
    """One line per training iteration: iteration, env steps, mean returns, time."""
    parts = [f"[{trial_id}] iter {result.get('training_iteration', '?')}"]
    steps = _lookup(
        result,
        "env_runners/num_env_steps_sampled_lifetime",
        "num_env_steps_sampled_lifetime",
    )
    if steps is not None:
        parts.append(f"env steps {int(steps)}")
    episode_return = _lookup(result, "env_runners/episode_return_mean")
    if isinstance(episode_return, int | float):
        parts.append(f"return {episode_return:.3f}")
    per_agent = _lookup(result, "env_runners/agent_episode_returns_mean")
    if isinstance(per_agent, Mapping) and per_agent:
        parts.append(" ".join(f"{agent} {value:.3f}" for agent, value in sorted(per_agent.items())))
    meta = result.get("meta_learner")
    if isinstance(meta, Mapping):  # Meta-MAPG family: reward per step at phi_0 and phi_L
        prefix = "agent_reward_step_"
        step_keys = sorted(
            (k for k in meta if k.startswith(prefix)), key=lambda k: int(k[len(prefix) :])
        )
        if step_keys:
            first, last = meta[step_keys[0]], meta[step_keys[-1]]
            parts.append(f"agent reward/step phi_0 {first:.3f} phi_L {last:.3f}")
    pairs = result.get("policy_pairs")
    if isinstance(pairs, Mapping):  # learning rules on differentiable games (paper 004)
        returns = [pairs[k] for k in sorted(pairs) if k.startswith("return_player_")]
        parts.append("returns " + " ".join(f"{value:.3f}" for value in returns))
        if "model_loss" in pairs:
            parts.append(f"model loss {pairs['model_loss']:.4f}")
    validation_auc = _lookup(result, "validation/auc")
    if isinstance(validation_auc, int | float):
        parts.append(f"validation AUC {validation_auc:.3f}")
    total_time = result.get("time_total_s")
    if isinstance(total_time, int | float):
        parts.append(f"{total_time:.1f}s")
    return " | ".join(parts)


def _progress_callback():
    from ray import tune

    class ProgressPrinter(tune.Callback):
        """Prints :func:`progress_line` for every reported result and every saved checkpoint."""

        def on_trial_result(self, iteration, trials, trial, result, **info):
            print(progress_line(trial.trial_id, result), flush=True)

        def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
            print(f"[{trial.trial_id}] checkpoint {checkpoint.path}", flush=True)

    return ProgressPrinter()


def run_experiment(prepared: PreparedExperiment, resume: bool = False, verbose: int = 0) -> Any:
    """Fit the experiment with Tune (or resume it) and return the ``ResultGrid``.

    ``verbose`` 0 prints one line per iteration; 1 and 2 add Tune's own status tables.
    Requires Ray to be running (see :func:`rllib_meta.cluster.ray_session`).
    """
    from ray import tune

    experiment = prepared.experiment
    run_config = tune.RunConfig(
        name=experiment.name,
        storage_path=experiment.storage_path,
        stop=dict(experiment.stop) or None,
        checkpoint_config=checkpoint_config_of(experiment),
        callbacks=[_progress_callback()],
        verbose=verbose,
    )
    trainable = prepared.algorithm_class
    if resume:
        if not tune.Tuner.can_restore(prepared.path):
            raise ConfigError(f"--resume: no Tune experiment to resume at {prepared.path}.")
        tuner = tune.Tuner.restore(
            prepared.path, trainable, resume_unfinished=True, resume_errored=True
        )
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=prepared.param_space,
            tune_config=tune.TuneConfig(num_samples=experiment.num_samples),
            run_config=run_config,
        )
    start = time.time()
    results = tuner.fit()
    print(
        f"Experiment {experiment.name!r}: {len(results)} trial(s) in {time.time() - start:.1f}s, "
        f"results in {prepared.path}",
    )
    return results


def report_checkpoints(results: Any) -> int:
    """Print each trial's final checkpoint and errors; return the number of failed trials."""
    failures = 0
    for result in results:
        trial = result.path
        if result.error is not None:
            failures += 1
            print(f"FAILED {trial}: {result.error}")
        if result.checkpoint is not None:
            print(f"Checkpoint: {result.checkpoint.path}")
        else:
            print(
                f"No checkpoint for {trial} (use checkpoint_config or --checkpoint-at-end).",
            )
    return failures
