"""The ``rllib`` (and ``rllib-meta``) command: train, evaluate, list.

Ray 2.60 no longer ships an ``rllib`` command; this one keeps the classic workflow::

    rllib train file tuned_examples/ppo_ipd.yaml [--stop JSON] [--config JSON] ...
    rllib train --algo PPO --env ipd [--config JSON] [--stop JSON]
    rllib evaluate <checkpoint> [<checkpoint> ...] [--episodes N] [--output-dir DIR]
    rllib list

Exit codes: 0 success, 1 a trial or evaluation failed, 2 bad input (unknown key, name, file,
stop criterion, unreachable cluster, resources the cluster cannot offer), 128 + the signal
number when a run was stopped by SIGINT (130) or SIGTERM (143): the experiment state is saved
and the `--resume` command printed.
"""

import argparse
import os
import shlex
import signal
import sys
from collections.abc import Sequence

from rllib_meta.errors import ConfigError

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _add_ray_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Ray")
    group.add_argument(
        "--ray-address", help="join a running Ray cluster ('auto' finds the local head node)"
    )
    group.add_argument("--ray-num-cpus", type=int, help="CPUs for a locally started Ray")
    group.add_argument(
        "--ray-num-nodes",
        type=int,
        default=1,
        help="simulate a local multi-node cluster with N nodes (ray.cluster_utils.Cluster)",
    )


def _train_parser(subparsers) -> None:
    train = subparsers.add_parser(
        "train",
        help="train from a tuned-example YAML file or from --algo/--env",
        description="rllib train file FILE.yaml [flags]  |  rllib train --algo NAME --env NAME",
    )
    train.add_argument("target", nargs="*", metavar="file FILE", help="'file' and a YAML path")
    train.add_argument("--algo", help="algorithm name (see `rllib list`)")
    train.add_argument("--env", help="environment name (see `rllib list`)")
    train.add_argument("--config", help="JSON object merged into the experiment's config")
    train.add_argument("--stop", help="JSON object replacing the stop criteria")
    train.add_argument("--num-samples", type=int, help="trials per experiment")
    train.add_argument("--checkpoint-freq", type=int, help="checkpoint every N iterations")
    train.add_argument(
        "--checkpoint-at-end", action="store_true", default=None, help="checkpoint at the end"
    )
    train.add_argument("--storage-path", help="where Tune writes results and checkpoints")
    train.add_argument("--resume", action="store_true", help="resume the experiment in place")
    train.add_argument("-v", "--verbose", action="count", default=0, help="-v, -vv: Tune tables")
    _add_ray_flags(train)


def _evaluate_parser(subparsers) -> None:
    evaluate = subparsers.add_parser(
        "evaluate",
        help="evaluate one or more checkpoints",
        description="Restore checkpoints and play whole episodes (or the algorithm's own "
        "meta-test). A trial or experiment directory means its newest checkpoint, or for "
        "the Meta-MAPG family its checkpoint with the best validation AUC.",
    )
    # Defaults are None here, so that an option given for checkpoints whose evaluation does
    # not read it is refused (evaluation/options.py fills in EVALUATE_DEFAULTS).
    evaluate.add_argument("checkpoints", nargs="+", help="checkpoint directories")
    evaluate.add_argument(
        "--episodes", type=int, help="episodes per checkpoint (whole-episode evaluation; 100)"
    )
    evaluate.add_argument(
        "--greedy",
        action="store_true",
        default=None,
        help="greedy instead of sampled actions (whole-episode evaluation)",
    )
    evaluate.add_argument(
        "--seed", type=int, help="seed of the evaluation (default 0; not read by every protocol)"
    )
    evaluate.add_argument(
        "--output-dir",
        help="where algorithms with their own protocol write tables and plots (default: "
        "evaluation/ in the first trial or experiment directory given, or "
        "evaluation_checkpoint_NNNNNN/ beside the first checkpoint given)",
    )
    evaluate.add_argument(
        "--split", help="persona split for meta-testing (Meta-MAPG family; default: test)"
    )
    _add_ray_flags(evaluate)


def build_parser(prog: str = "rllib") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="rllib-meta: meta-learning multi-agent RL on Ray RLlib."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    _train_parser(subparsers)
    _evaluate_parser(subparsers)
    subparsers.add_parser("list", help="list algorithms, environments and tuned examples")
    return parser


def _experiments_of(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list:
    from rllib_meta.experiment import experiment_from_flags, load_experiments
    from rllib_meta.tuned_examples import resolve_experiment_file

    if args.target:
        if len(args.target) != 2 or args.target[0] != "file":
            parser.error(f"expected `train file FILE.yaml`, got `train {' '.join(args.target)}`")
        if args.algo or args.env:
            parser.error("--algo/--env go without `file FILE.yaml`; put them in the file")
        return load_experiments(resolve_experiment_file(args.target[1]))
    if not (args.algo and args.env):
        parser.error("give `file FILE.yaml`, or both --algo and --env")
    return [experiment_from_flags(args.algo, args.env)]


def _ray_is_running() -> bool:
    import ray

    return ray.is_initialized()


def resume_command(prog: str, argv: Sequence[str]) -> str:
    """The command line that resumes this ``train`` command where it stopped."""
    words = list(argv)
    if "--resume" not in words:
        words.append("--resume")
    return shlex.join([prog, *words])


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    from rllib_meta.cluster import check_ray_flags, local_offer, ray_session
    from rllib_meta.experiment import Overrides, apply_overrides, parse_json_flag, prepare
    from rllib_meta.training import (
        Interrupts,
        check_trial_resources,
        graceful_interrupts,
        report_checkpoints,
        run_experiment,
    )

    overrides = Overrides(
        stop=parse_json_flag(args.stop, "--stop"),
        config=parse_json_flag(args.config, "--config"),
        num_samples=args.num_samples,
        checkpoint_frequency=args.checkpoint_freq,
        checkpoint_at_end=args.checkpoint_at_end,
        storage_path=args.storage_path,
    )
    experiments = [apply_overrides(e, overrides) for e in _experiments_of(args, parser)]
    prepared = [prepare(experiment) for experiment in experiments]  # all validated first
    for item in prepared:
        if not item.experiment.stop:
            print(
                f"Note: experiment {item.experiment.name!r} has no stop criteria: "
                "it trains until interrupted (Ctrl-C)."
            )
    check_ray_flags(args.ray_address, args.ray_num_cpus, args.ray_num_nodes)
    if not args.ray_address and not _ray_is_running():
        # A local Ray's CPUs are known before it starts: refuse without starting it.
        offer = local_offer(args.ray_num_cpus, args.ray_num_nodes)
        for item in prepared:
            check_trial_resources(item, joined=False, offer=offer)
    failures = 0
    quiet = args.verbose == 0
    interrupts = Interrupts()
    try:
        with (
            ray_session(args.ray_address, args.ray_num_cpus, args.ray_num_nodes, quiet),
            graceful_interrupts(interrupts),  # after ray.init: see its docstring
        ):
            for item in prepared:  # every request checked before any trial starts
                check_trial_resources(item, joined=bool(args.ray_address))
            for item in prepared:
                results = run_experiment(
                    item, args.resume, args.verbose, interrupts, new_stop=args.stop is not None
                )
                failures += report_checkpoints(results)
                if interrupts.signal is not None:
                    break
    except KeyboardInterrupt:
        interrupts.signal = interrupts.signal or signal.SIGINT
    if interrupts.signal is not None and not interrupts.started:
        print(f"{parser.prog}: interrupted before training started.", file=sys.stderr)
        return interrupts.exit_code
    if interrupts.signal is not None:
        print(
            f"{parser.prog}: interrupted; the experiment state was saved. Resume with:\n"
            f"  {resume_command(parser.prog, argv)}",
            file=sys.stderr,
        )
        return interrupts.exit_code
    return EXIT_FAILED if failures else 0


def _evaluate(args: argparse.Namespace) -> int:
    from rllib_meta.cluster import ray_session
    from rllib_meta.evaluation import evaluate_checkpoint, load_checkpoint_info
    from rllib_meta.evaluation.episodes import format_reports
    from rllib_meta.evaluation.options import check_evaluate_options

    infos = [load_checkpoint_info(path) for path in args.checkpoints]
    classes = {info.algorithm_class for info in infos}
    # Checkpoints of several algorithms can be compared when they share one evaluation
    # protocol (e.g. MetaMAPG, MetaPG, LOLADiCE and REINFORCE: meta-testing).
    protocols = {_own_evaluation(cls) for cls in classes}
    if len(classes) > 1 and (len(protocols) > 1 or None in protocols):
        names = ", ".join(sorted(c.__name__ for c in classes))
        raise ConfigError(
            f"checkpoints of algorithms with different evaluations ({names}); give checkpoints "
            "of one algorithm, or of algorithms that share one (the Meta-MAPG family)."
        )
    algorithm_class = next(iter(classes))
    own = _own_evaluation(algorithm_class) is not None
    if not own and _samples_its_own_batches(algorithm_class):
        raise ConfigError(
            f"{algorithm_class.__name__} checkpoints have no `rllib evaluate`: its EnvRunner "
            "samples batches of its own, not the episodes the generic evaluation plays, and "
            "it has no evaluation protocol; its results are the training metrics of its "
            "trial (result.json)."
        )
    check_evaluate_options(args, algorithm_class, infos, own)
    with ray_session(args.ray_address, args.ray_num_cpus, args.ray_num_nodes):
        if _own_evaluation(algorithm_class) is not None:
            return algorithm_class.evaluate_checkpoints(args.checkpoints, args)
        reports = [
            evaluate_checkpoint(info.path, args.episodes, not args.greedy, args.seed)
            for info in infos
        ]
    print(format_reports(reports))
    return 0


def _samples_its_own_batches(algorithm_class: type) -> bool:
    """An rllib-meta algorithm: its EnvRunner returns its own batches, not RLlib episodes."""
    from rllib_meta.algorithms.base.algorithm import MetaAlgorithm

    return issubclass(algorithm_class, MetaAlgorithm)


def _own_evaluation(algorithm_class: type):
    """The function behind an algorithm's own ``evaluate_checkpoints``, if it has one."""
    method = getattr(algorithm_class, "evaluate_checkpoints", None)
    return getattr(method, "__func__", method)


def _list() -> int:
    import envs
    from envs.registry import env_config_keys, env_description
    from rllib_meta.algorithms import ALGORITHMS
    from rllib_meta.experiment import load_experiments
    from rllib_meta.registry import rllib_algorithm_names
    from rllib_meta.tuned_examples import tuned_examples

    print("Algorithms")
    print(f"  rllib-meta: {', '.join(sorted(ALGORITHMS)) or '(none yet)'}")
    print(f"  RLlib:      {', '.join(rllib_algorithm_names())}")
    print("\nEnvironments (env_config keys and defaults)")
    width = max(map(len, envs.env_names()))
    for name in envs.env_names():
        defaults = ", ".join(f"{k}={v!r}" for k, v in env_config_keys(name).items())
        print(f"  {name:<{width}} {env_description(name)}\n  {'':<{width}} {defaults}")
    print("\nTuned examples")
    examples = tuned_examples()
    width = max(map(len, examples), default=0)
    for file_name, path in examples.items():
        try:
            summary = ", ".join(
                f"{e.name}: {e.run} on {e.config.get('env')}" for e in load_experiments(path)
            )
        except ConfigError as error:
            summary = f"(unreadable: {error})"
        print(f"  {file_name:<{width}} {summary}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    prog = os.path.basename(sys.argv[0]) if argv is None else "rllib"
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(prog if prog in ("rllib", "rllib-meta") else "rllib")
    args = parser.parse_args(argv)
    if args.command == "train":
        from rllib_meta import quiet

        # Before any config is built: RLlib's notices come from there too.
        if args.verbose == 0:
            quiet.install()
        else:
            quiet.uninstall()
    try:
        if args.command == "train":
            return _train(args, parser, argv)
        if args.command == "evaluate":
            return _evaluate(args)
        return _list()
    except ConfigError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
