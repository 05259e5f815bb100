"""Issue 18, items 1, 2, 9, 12 without Ray: stop criteria, resource arithmetic, signals, noise.

The end-to-end halves (a real run stopped by a signal, a request the session's Ray cannot
place, a resume with a new stop) are in tests/test_train_runtime.py.
"""

import logging
import os
import signal

import pytest

from rllib_meta import quiet
from rllib_meta.cluster import check_resources, resource_shortfall, runtime_env
from rllib_meta.errors import ConfigError
from rllib_meta.stop_criteria import check_stop, make_stopper, result_groups
from rllib_meta.training import graceful_interrupts
from rllib_meta.yaml_loader import SourceDict

RESULT = {
    "training_iteration": 1,
    "time_total_s": 0.5,
    "env_runners": {"episode_return_mean": 3.0, "agent_episode_returns_mean": {"p0": 1.0}},
    "learners": {"p0": {"total_loss": 0.25}},
}


# Item 1: stop criteria -----------------------------------------------------------------------


def test_known_criteria_pass_and_nested_mappings_become_slash_paths():
    stop = check_stop(
        {
            "training_iteration": 3,
            "env_runners": {"episode_return_mean": -10, "agent_episode_returns_mean": {"p0": 1}},
            "meta_learner/agent_reward_step_0": 0.5,
            "learners/p0/total_loss": 0.1,
        },
        "--stop",
        groups=result_groups("MetaMAPG"),
    )
    assert stop == {
        "training_iteration": 3,
        "env_runners/episode_return_mean": -10,  # returns may be negative
        "env_runners/agent_episode_returns_mean/p0": 1,
        "meta_learner/agent_reward_step_0": 0.5,
        "learners/p0/total_loss": 0.1,
    }


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        (
            {"train_iter": 1},
            r"unknown stop criterion 'train_iter'.*Did you mean 'training_iteration'",
        ),
        (
            {"timesteps_total": 10},
            r"'timesteps_total' is never reported.*num_env_steps_sampled_life",
        ),
        ({"episode_reward_mean": 1}, r"use 'env_runners/episode_return_mean'"),
        (
            {"env_runners": {"episode_retrun_mean": 1}},
            r"'env_runners/episode_retrun_mean'.*Did you mean 'env_runners/episode_return_mean'",
        ),
        ({"metalearner/x": 1}, r"unknown stop criterion 'metalearner/x'"),
        ({"training_iteration": -1}, r"stop\.training_iteration: must be >= 1, got -1"),
        ({"training_iteration": 0}, r"must be >= 1, got 0"),
        ({"time_total_s": -5}, r"stop\.time_total_s: must be > 0"),
        ({"num_env_steps_sampled_lifetime": 0}, r"must be > 0"),
        ({"training_iteration": "10"}, r"expected a number, got '10'"),
        ({"training_iteration": True}, r"expected a number, got True"),
        ({"training_iteration": float("nan")}, r"expected a number, got nan"),
        ({"training_iteration": float("inf")}, r"must be finite, got inf"),
    ],
)
def test_bad_criteria_are_refused_with_where_and_fix(stop, expected):
    with pytest.raises(ConfigError, match=expected) as info:
        check_stop(SourceDict(stop, locations=dict.fromkeys(stop, "exp.yaml:4")), "exp.yaml:1")
    assert str(info.value).startswith("exp.yaml:4")


def test_each_algorithm_family_has_its_own_result_groups():
    check_stop({"meta_learner/agent_reward_step_0": 1}, "x", groups=result_groups("LOLADiCE"))
    check_stop({"policy_pairs/return_player_0": 1}, "x", groups=result_groups("MeVa"))
    with pytest.raises(ConfigError, match=r"unknown stop criterion 'meta_learner/agent_rew"):
        check_stop({"meta_learner/agent_reward_step_0": 1}, "x", groups=result_groups("PPO"))
    with pytest.raises(ConfigError, match=r"unknown stop criterion 'policy_pairs/return"):
        check_stop({"policy_pairs/return_player_0": 1}, "x", groups=result_groups("MetaMAPG"))


def test_every_algorithm_declares_the_groups_it_reports_under():
    from rllib_meta.algorithms import ALGORITHMS
    from rllib_meta.algorithms.base.algorithm import FAULTS, LEARNER_FAULTS
    from rllib_meta.algorithms.follower_learning_demo.algorithm import RESULTS
    from rllib_meta.algorithms.meta_mapg.algorithm import META_LEARNER, VALIDATION
    from rllib_meta.algorithms.meta_value.algorithm import POLICY_PAIRS
    from rllib_meta.algorithms.mra.algorithm import GROUP
    from rllib_meta.algorithms.stackelberg.algorithm import METRICS

    expected = {
        "MetaMAPG": (META_LEARNER, VALIDATION),
        "LOLADiCE": (META_LEARNER, VALIDATION),
        "MeVa": (POLICY_PAIRS,),
        "StackelbergMeta": (METRICS,),
        "StackelbergAtariTrade": (METRICS,),
        "FollowerLearningDemo": (RESULTS,),
        "MRA": (GROUP,),
    }
    for name, groups in expected.items():
        assert set(groups) | {FAULTS, LEARNER_FAULTS} <= set(result_groups(name)), name
    assert set(expected) <= set(ALGORITHMS)


def test_an_undeclared_result_group_is_refused_when_reported():
    from rllib_meta.algorithms.base.algorithm import MetaAlgorithm

    class Reporter(MetaAlgorithm):
        RESULT_GROUPS = ("mine",)

    reporter = Reporter.__new__(Reporter)  # log_results needs no set-up to refuse
    with pytest.raises(ValueError, match=r"reports under 'other', which its RESULT_GROUPS"):
        reporter.log_results("other", {"x": 1.0})


def test_a_class_of_the_users_own_gets_only_its_values_checked():
    assert check_stop({"my_metric": 2}, "x", strict=False) == {"my_metric": 2}
    with pytest.raises(ConfigError, match="must be >= 1"):
        check_stop({"training_iteration": -1}, "x", strict=False)


def test_stopper_reaches_thresholds_and_stops_all_on_a_missing_metric():
    stopper = make_stopper("exp-a", {"env_runners/episode_return_mean": 3.0}, "exp.yaml:2")
    assert stopper("t1", RESULT)  # 3.0 >= 3.0
    assert not stopper("t2", {**RESULT, "env_runners": {"episode_return_mean": 2.9}})
    assert not stopper.stop_all()

    typo = make_stopper("exp-b", {"learners/p0/total_losss": 0.1}, "exp.yaml:2")
    assert typo("t1", RESULT) and typo.stop_all()
    assert "'learners/p0/total_losss' (did you mean 'learners/p0/total_loss'" in typo.state.error


def test_an_unpickled_stopper_follows_the_criteria_of_the_running_command():
    """Tune restores the Stopper pickled in the experiment state; a resume with a new stop
    must still apply the new one (item 10)."""
    import cloudpickle

    old = make_stopper("exp-c", {"training_iteration": 2}, "--stop")
    blob = cloudpickle.dumps(old)
    make_stopper("exp-c", {"training_iteration": 4}, "--stop")  # the resuming command
    restored = cloudpickle.loads(blob)
    assert not restored("t1", {**RESULT, "training_iteration": 3})
    assert restored("t1", {**RESULT, "training_iteration": 4})


# Item 2: resources ---------------------------------------------------------------------------

BUNDLES = [{"CPU": 1.0}, {"CPU": 1.0}, {"CPU": 1.0}]  # PPO with num_env_runners: 2


def test_shortfall_counts_the_sum_and_per_node_fit():
    two_cpus = {"CPU": 2.0}
    assert resource_shortfall(BUNDLES, two_cpus, [two_cpus]) == {"CPU": (3.0, 2.0)}
    assert resource_shortfall(BUNDLES, {"CPU": 3.0}, [{"CPU": 2.0}, {"CPU": 1.0}]) == {}
    # 4 CPUs in all, but no node holds the 3-CPU bundle
    big = [{"CPU": 3.0}]
    assert resource_shortfall(big, {"CPU": 4.0}, [{"CPU": 2.0}] * 2) == {"CPU": (3.0, 2.0)}
    assert resource_shortfall([{"CPU": 1.0, "GPU": 1.0}], two_cpus, [two_cpus]) == {
        "GPU": (1.0, 0.0)
    }


def test_local_cluster_refuses_at_once_with_the_numbers_and_the_fix(monkeypatch):
    monkeypatch.setattr(
        "rllib_meta.cluster._cluster_resources", lambda: ({"CPU": 2.0}, [{"CPU": 2.0}])
    )
    with pytest.raises(ConfigError, match=r"3 CPU needed, 2 available.*--ray-num-cpus"):
        check_resources(BUNDLES, "a trial", "Fix: --ray-num-cpus N", joined=False, wait_s=60)


def test_a_local_ray_is_checked_before_it_starts(monkeypatch):
    from rllib_meta.cluster import local_offer

    def no_running_cluster():
        raise AssertionError("a local offer needs no running Ray")

    monkeypatch.setattr("rllib_meta.cluster._cluster_resources", no_running_cluster)
    assert local_offer(3, 1) == ({"CPU": 3.0}, [{"CPU": 3.0}])
    assert local_offer(5, 2) == ({"CPU": 4.0}, [{"CPU": 2.0}, {"CPU": 2.0}])  # as ray_session
    check_resources(BUNDLES, "a trial", "fix", joined=False, offer=local_offer(3, 1))
    with pytest.raises(ConfigError, match=r"3 CPU needed, 2 available"):
        check_resources(BUNDLES, "a trial", "fix", joined=False, offer=local_offer(2, 1))


def test_joined_cluster_waits_a_bounded_time(monkeypatch):
    offers = iter([{"CPU": 2.0}, {"CPU": 2.0}, {"CPU": 4.0}])  # an autoscaler adds a node

    def grow():
        cpus = next(offers)
        return {"CPU": cpus["CPU"]}, [cpus]

    monkeypatch.setattr("rllib_meta.cluster._cluster_resources", grow)
    monkeypatch.setattr("rllib_meta.cluster.time.sleep", lambda s: None)
    check_resources(BUNDLES, "a trial", "fix", joined=True, wait_s=60)  # no error

    monkeypatch.setattr(
        "rllib_meta.cluster._cluster_resources", lambda: ({"CPU": 2.0}, [{"CPU": 2.0}])
    )
    with pytest.raises(ConfigError, match=r"after waiting 0\.01s \(3 CPU needed, 2 available"):
        check_resources(BUNDLES, "a trial", "fix", joined=True, wait_s=0.01)


# Item 9: signals -----------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_both_ask_tune_to_stop_once(signum):
    calls = []
    with graceful_interrupts() as interrupts:
        assert os.environ["TUNE_DISABLE_SIGINT_HANDLER"] == "1"
        signal.signal(signal.SIGUSR1, lambda *args: calls.append(args[0]))  # Tune's handler
        interrupts.in_fit = True
        signal.raise_signal(signum)
        assert calls == [signal.SIGUSR1] and interrupts.signal == signum
        with pytest.raises(KeyboardInterrupt):  # the second one quits at once
            signal.raise_signal(signum)
    assert interrupts.exit_code == 128 + signum
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert "TUNE_DISABLE_SIGINT_HANDLER" not in os.environ


def test_a_signal_outside_tune_quits_at_once():
    with graceful_interrupts() as interrupts, pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGTERM)
    assert interrupts.exit_code == 143


# Item 12: noise ------------------------------------------------------------------------------


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def collected():
    """Every record of the noisy loggers, whatever levels Ray (ray.init's logging_level) or
    earlier tests gave them: a handler and level DEBUG on each logger itself."""
    handler = Collect()
    loggers = {logging.getLogger(name) for name, _ in quiet.KNOWN_NOISE}
    saved = {logger: logger.level for logger in loggers}
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    yield handler.messages
    for logger, level in saved.items():
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_known_noise_is_filtered_and_nothing_else(collected):
    quiet.install()
    quiet.install()  # idempotent
    try:
        for name, prefix in quiet.KNOWN_NOISE:
            logging.getLogger(name).warning(prefix + " (rest of Ray's message)")
        logging.getLogger("ray.tune.tune").warning("Trials did not complete: [x]")
        logging.getLogger("ray.rllib.algorithms.algorithm_config").error("You ran out of memory")
        logging.getLogger("ray.tune.utils.util").warning("Install psutil to monitor system")
    finally:
        quiet.uninstall()
    assert collected == [
        "Trials did not complete: [x]",
        "You ran out of memory",
        "Install psutil to monitor system",
    ]
    logging.getLogger("ray.tune.utils.util").warning("Install gputil for GPU system monitoring.")
    assert collected[-1].startswith("Install gputil")  # -v: shown again


def test_workers_get_the_filters_through_the_setup_hook():
    from ray._common.utils import load_class  # what Ray's workers use to find the hook

    assert "worker_process_setup_hook" not in runtime_env()
    hook = runtime_env(quiet=True)["worker_process_setup_hook"]
    assert load_class(hook) is quiet.install
