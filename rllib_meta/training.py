"""Run a prepared experiment through Ray Tune, show progress, report the checkpoints."""

import contextlib
import dataclasses
import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from rllib_meta.errors import ConfigError
from rllib_meta.experiment import PreparedExperiment, checkpoint_config_of
from rllib_meta.stop_criteria import make_stopper, reached

TUNE_SIGINT_ENV = "TUNE_DISABLE_SIGINT_HANDLER"


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


def _progress_callback(stop: Mapping):
    from ray import tune

    class ProgressPrinter(tune.Callback):
        """Prints :func:`progress_line` for every reported result and every saved checkpoint."""

        def on_step_begin(self, iteration, trials, **info):
            _use_stop_criteria(trials, stop)

        def on_trial_result(self, iteration, trials, trial, result, **info):
            print(progress_line(trial.trial_id, result), flush=True)

        def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
            print(f"[{trial.trial_id}] checkpoint {checkpoint.path}", flush=True)

    return ProgressPrinter()


@dataclasses.dataclass
class Interrupts:
    """What :func:`graceful_interrupts` saw: the first stop signal, and whether Tune runs."""

    signal: int | None = None
    in_fit: bool = False
    started: bool = False  # a Tune run began (there is an experiment state to resume)

    @property
    def exit_code(self) -> int:
        """The shell's convention, 128 + the signal number (Ctrl-C: 130, SIGTERM: 143)."""
        return 128 + (self.signal or signal.SIGINT)


@contextlib.contextmanager
def graceful_interrupts(state: Interrupts | None = None) -> Iterator[Interrupts]:
    """SIGINT (Ctrl-C) and SIGTERM (``timeout``, schedulers) stop a run the same graceful way.

    Tune handles only SIGINT (and SIGUSR1) itself, and afterwards gives no sign that it was
    interrupted. Here Tune's SIGINT handler is switched off (``TUNE_DISABLE_SIGINT_HANDLER``)
    and both signals come to one handler, which records the signal and, while Tune runs, calls
    Tune's SIGUSR1 handler: Tune stops the trials, saves the experiment state and returns. A
    second signal, or one outside Tune, raises ``KeyboardInterrupt`` (quit at once).

    Enter it after ``ray.init``: Ray's driver installs a C-level SIGTERM handler that aborts
    the process, and the one installed last wins.
    """
    state = state or Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield state  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, frame: Any) -> None:
        first = state.signal is None
        state.signal = state.signal or signum
        tune_handler = signal.getsignal(signal.SIGUSR1)
        if first and state.in_fit and callable(tune_handler):
            name = signal.Signals(signum).name
            print(
                f"\n{name} received: stopping the trials and saving the experiment state "
                "(send it again to quit at once).",
                file=sys.stderr,
                flush=True,
            )
            tune_handler(signal.SIGUSR1, frame)
            return
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous_usr1 = signal.getsignal(signal.SIGUSR1)
    previous_env = os.environ.get(TUNE_SIGINT_ENV)
    os.environ[TUNE_SIGINT_ENV] = "1"
    try:
        yield state
    finally:
        for sig, old in previous.items():
            if old is not None:  # None: a handler not set from Python (Ray's), left to it
                signal.signal(sig, old)
        signal.signal(signal.SIGUSR1, previous_usr1)
        if previous_env is None:
            os.environ.pop(TUNE_SIGINT_ENV, None)
        else:
            os.environ[TUNE_SIGINT_ENV] = previous_env


def trial_bundles(prepared: PreparedExperiment, max_variants: int = 64) -> list[list[dict]]:
    """The placement-group bundles of each distinct trial (RLlib's own
    ``default_resource_request``, computed without Ray), over the search space's variants."""
    from ray.tune.search.variant_generator import generate_variants

    spaces = [prepared.param_space]
    if prepared.has_search_spaces:
        variants = generate_variants(prepared.param_space)
        spaces = [space for _, space in itertools.islice(variants, max_variants)]
    requests: list[list[dict]] = []
    for space in spaces:
        try:
            factory = prepared.algorithm_class.default_resource_request(space)
        except Exception:  # a class of the user's own that cannot say: Tune will ask
            continue
        bundles = [dict(bundle) for bundle in factory.bundles]
        if bundles not in requests:
            requests.append(bundles)
    return requests


def resource_fix(prepared: PreparedExperiment, joined: bool, cpus_needed: float) -> str:
    """How to get the resources, or ask for less, in the config's own terms."""
    config = prepared.param_space
    asks = []
    runners = config.get("num_env_runners") or 0
    if runners:
        asks.append(f"fewer EnvRunners (num_env_runners: {runners} now; 0 samples in the trial)")
        if (config.get("num_cpus_per_env_runner") or 1) >= 1:
            asks.append("num_cpus_per_env_runner: 0.5")
    learners = config.get("num_learners") or 0
    if learners:
        asks.append(f"fewer learners (num_learners: {learners} now)")
    if config.get("evaluation_num_env_runners"):
        asks.append("fewer evaluation_num_env_runners")
    if config.get("num_gpus_per_learner") or config.get("num_gpus_per_env_runner"):
        asks.append("no GPUs (num_gpus_per_learner / num_gpus_per_env_runner: 0)")
    more = (
        "add nodes to the cluster"
        if joined
        else f"give the local Ray more CPUs (--ray-num-cpus N, N >= {cpus_needed:g}; Ray then "
        f"shares this machine's {os.cpu_count()} cores among more processes)"
    )
    return f"Fix: {more}, or ask for less: {'; '.join(asks) or 'see the bundles above'}."


def check_trial_resources(
    prepared: PreparedExperiment, joined: bool, offer: tuple | None = None
) -> None:
    """Refuse, before any trial starts, a trial request the cluster cannot place: the running
    one, or ``offer`` (CPUs only: :func:`rllib_meta.cluster.local_offer`) before Ray starts."""
    from rllib_meta.cluster import check_resources

    for bundles in trial_bundles(prepared):
        if offer is not None:  # before Ray starts only CPUs are known
            bundles = [{"CPU": b["CPU"]} for b in bundles if b.get("CPU")]
        cpus = sum(bundle.get("CPU", 0.0) for bundle in bundles)
        check_resources(
            bundles,
            f"experiment {prepared.experiment.name!r}: a trial",
            resource_fix(prepared, joined, cpus),
            joined=joined,
            offer=offer,
        )


def _use_stop_criteria(trials: Any, stop: Mapping) -> None:
    # A restored trial keeps the stop mapping it was created with (Tune checks it besides the
    # Stopper): give it this command's criteria (a new --stop on --resume).
    for trial in trials:
        trial.stopping_criterion = dict(stop)


def _previous_run(prepared: PreparedExperiment) -> tuple[Any, dict]:
    """The experiment's state on disk: its ``Tuner`` and the stop criteria it ran with."""
    from ray import tune

    if not tune.Tuner.can_restore(prepared.path):
        raise ConfigError(f"--resume: no Tune experiment to resume at {prepared.path}.")
    previous = tune.Tuner.restore(prepared.path, prepared.algorithm_class)
    stored = previous._local_tuner.get_run_config().stop  # Ray 2.60: the unpickled RunConfig
    if isinstance(stored, Mapping):  # an experiment started before the Stopper
        return previous, dict(stored)
    fallback = getattr(stored, "fallback", None)  # our Stopper (stop_criteria.make_stopper)
    return previous, dict(fallback.criteria) if fallback is not None else {}


def _restored_tuner(previous: Any, prepared: PreparedExperiment, run_config: Any) -> Any:
    """``Tuner.restore`` of the experiment, with this command's stop criteria, callbacks and
    verbosity (Tune would keep the ones pickled in ``tuner.pkl``): finished trials that the
    criteria do not stop yet continue from their newest checkpoint."""
    from ray import tune
    from ray.tune import ResumeConfig

    stop = run_config.stop.state.criteria
    try:
        results = list(previous.get_results())
    except RuntimeError:  # no readable results yet (interrupted before the first one)
        results = []
    finished = [r.metrics for r in results if r.error is None and r.metrics]
    go_on = any(m.get("done") and not reached(stop, m) for m in finished)
    resume = ResumeConfig.ResumeType.RESUME
    resume_config = ResumeConfig(
        finished=resume if go_on else ResumeConfig.ResumeType.SKIP,
        unfinished=resume,
        errored=resume,
    )
    tuner = tune.Tuner.restore(
        prepared.path, prepared.algorithm_class, _resume_config=resume_config
    )
    restored = tuner._local_tuner.get_run_config()
    restored.stop = run_config.stop
    restored.callbacks = run_config.callbacks
    restored.verbose = run_config.verbose
    return tuner


def run_experiment(
    prepared: PreparedExperiment,
    resume: bool = False,
    verbose: int = 0,
    interrupts: Interrupts | None = None,
    new_stop: bool = True,
) -> Any:
    """Fit the experiment with Tune (or resume it) and return the ``ResultGrid``.

    ``verbose`` 0 prints one line per iteration; 1 and 2 add Tune's own status tables.
    ``interrupts`` (from :func:`graceful_interrupts`) learns when Tune is running. On
    ``resume``, ``new_stop`` (``--stop`` given) makes the experiment's stop criteria replace
    the ones it ran with; otherwise those are kept. Raises :class:`ConfigError` when a trial's
    first result lacks a stop criterion. Requires Ray to be running (see
    :func:`rllib_meta.cluster.ray_session`).
    """
    from ray import tune

    experiment = prepared.experiment
    where = experiment.where or experiment.name
    stop = experiment.stop
    if resume:
        previous, stored = _previous_run(prepared)
        stop = stop if new_stop else stored
    stopper = make_stopper(prepared.path, stop, where)
    run_config = tune.RunConfig(
        name=experiment.name,
        storage_path=experiment.storage_path,
        stop=stopper,
        checkpoint_config=checkpoint_config_of(experiment),
        callbacks=[_progress_callback(stop)],
        verbose=verbose,
    )
    if resume:
        tuner = _restored_tuner(previous, prepared, run_config)
    else:
        tuner = tune.Tuner(
            prepared.algorithm_class,
            param_space=prepared.param_space,
            tune_config=tune.TuneConfig(num_samples=experiment.num_samples),
            run_config=run_config,
        )
    interrupts = interrupts or Interrupts()
    start = time.time()
    interrupts.in_fit = interrupts.started = True
    try:
        results = tuner.fit()
    finally:
        interrupts.in_fit = False
    if stopper.state.error is not None:
        raise ConfigError(stopper.state.error)
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
