"""Meta-test summaries, tables and figures (paper 001 Figs. 2, 3a, 9-16) on hand-made results."""

import dataclasses
import json
import math
import re

import numpy as np
import pytest
from matplotlib.image import imread

from rllib_meta.algorithms.meta_mapg.meta_test import (
    AUC_DEFINITION,
    MetaTestResult,
    SummaryRow,
    auc,
    format_table,
    kind_action_probs,
    kind_curves,
    plot_action_dynamics,
    plot_adaptation_curves,
    summary_rows,
    validate_results,
    write_meta_test_report,
)

T_2_DOF = 4.302652729911275  # t_{0.975, 2} = 0.95 / sqrt(2 * 0.975 * 0.025)

# P = 4 personas (2 cooperating, 2 defecting), L = 2 (phi_0..phi_2), n = 2 players.
BASE_REWARDS = np.array(
    [
        [[-1.0, -2.0], [-0.5, -1.5], [0.0, -3.0]],
        [[-2.0, -1.0], [-1.5, -0.5], [-1.0, -2.0]],
        [[-3.0, 0.0], [-2.0, -1.0], [-2.5, -0.5]],
        [[-2.0, -1.0], [-1.0, -2.0], [-0.5, -0.5]],
    ]
)
# P(cooperate) of (meta-agent, peer) per persona and joint policy; A = 2 actions (C, D).
BASE_COOPERATE = np.array(
    [
        [[1.0, 0.5], [0.75, 0.5], [0.5, 0.25]],
        [[0.5, 1.0], [0.25, 0.5], [0.0, 0.75]],
        [[0.25, 0.0], [0.5, 0.25], [0.75, 0.5]],
        [[0.75, 0.5], [1.0, 0.25], [0.25, 0.0]],
    ]
)
SEED_OFFSETS = (0.0, 1.0, 3.0)  # std(ddof=1) of these is sqrt(7/3)


def make_result(
    offset: float = 0.0,
    label: str = "seed 0",
    algorithm: str = "MetaMAPG",
    personas: slice = slice(None),
) -> MetaTestResult:
    """One hand-made checkpoint's meta-test: ``BASE_REWARDS + offset`` on ``personas``."""
    cooperate = BASE_COOPERATE[personas]
    return MetaTestResult(
        label=label,
        algorithm=algorithm,
        game="ipd",
        rewards=BASE_REWARDS[personas] + offset,
        action_probs=np.stack([cooperate, 1.0 - cooperate], axis=-1),
        persona_kinds=np.array([0, 0, 1, 1])[personas],
        kind_names=("cooperating", "defecting"),
        action_names=("C", "D"),
    )


def three_seeds(algorithm: str = "MetaMAPG") -> list[MetaTestResult]:
    return [make_result(offset, f"seed {i}", algorithm) for i, offset in enumerate(SEED_OFFSETS)]


def row(rows: list[SummaryRow], kind: str, player: str) -> SummaryRow:
    (match,) = [r for r in rows if r.kind == kind and r.player == player]
    return match


# --- curves and AUC ---------------------------------------------------------------------------


def test_kind_curves_average_the_personas_of_a_kind():
    result = make_result()
    np.testing.assert_array_equal(kind_curves(result, "cooperating"), [-1.5, -1.0, -0.5])
    np.testing.assert_array_equal(kind_curves(result, "defecting"), [-2.5, -1.5, -1.5])
    np.testing.assert_array_equal(kind_curves(result, None), [-2.0, -1.25, -1.0])
    np.testing.assert_array_equal(kind_curves(result, "cooperating", 1), [-1.5, -1.0, -2.5])
    np.testing.assert_array_equal(kind_curves(result, "defecting", player=1), [-0.5, -1.5, -0.5])


def test_kind_curves_rejects_unknown_kind_and_player():
    result = make_result()
    with pytest.raises(ValueError, match=r"unknown persona kind 'tit-for-tat'.*cooperating"):
        kind_curves(result, "tit-for-tat")
    with pytest.raises(ValueError, match="player 2 out of range"):
        kind_curves(result, None, player=2)
    with pytest.raises(ValueError, match="no personas of kind 'defecting'"):
        kind_curves(make_result(personas=slice(0, 2)), "defecting")


def test_kind_action_probs_average_the_personas_of_a_kind():
    probs = kind_action_probs(make_result(), "defecting", player=1)
    np.testing.assert_array_equal(probs, [[0.25, 0.75], [0.25, 0.75], [0.25, 0.75]])


def test_auc_excludes_phi_0_and_sums_the_rest():
    assert auc(np.array([100.0, -1.0, -0.5])) == -1.5
    assert auc(np.array([7.0])) == 0.0  # L = 0: nothing adapted
    np.testing.assert_array_equal(auc(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])), [5.0, 11.0])
    assert "phi_1..phi_L" in AUC_DEFINITION and "phi_0" in AUC_DEFINITION


# --- summaries across seeds ------------------------------------------------------------------


def test_summary_rows_mean_and_ci_across_three_seeds():
    rows = summary_rows(three_seeds())
    assert [(r.kind, r.player) for r in rows] == [
        ("cooperating", "meta-agent"),
        ("cooperating", "peer 1"),
        ("defecting", "meta-agent"),
        ("defecting", "peer 1"),
        ("all", "meta-agent"),
        ("all", "peer 1"),
    ]
    # Every seed shifts every reward by its offset, so the CI is the offsets' CI everywhere.
    ci = T_2_DOF * math.sqrt(7.0 / 3.0) / math.sqrt(3.0)
    coop = row(rows, "cooperating", "meta-agent")
    np.testing.assert_allclose(coop.mean, np.array([-1.5, -1.0, -0.5]) + 4.0 / 3.0, rtol=1e-12)
    np.testing.assert_allclose(coop.ci95, [ci, ci, ci], rtol=1e-9)
    assert coop.auc_mean == pytest.approx(-1.5 + 8.0 / 3.0, rel=1e-12)  # AUC shifts by 2 * offset
    assert coop.auc_ci95 == pytest.approx(2.0 * ci, rel=1e-9)
    assert coop.num_seeds == 3
    peer_all = row(rows, "all", "peer 1")
    np.testing.assert_allclose(peer_all.mean, np.array([-1.0, -1.25, -1.5]) + 4.0 / 3.0)
    assert peer_all.auc_mean == pytest.approx(-2.75 + 8.0 / 3.0, rel=1e-12)


def test_summary_rows_with_one_seed_have_nan_ci():
    rows = summary_rows([make_result()])
    defect = row(rows, "defecting", "meta-agent")
    np.testing.assert_array_equal(defect.mean, [-2.5, -1.5, -1.5])
    assert np.isnan(defect.ci95).all()
    assert defect.auc_mean == -3.0 and math.isnan(defect.auc_ci95)
    assert defect.num_seeds == 1


def test_summary_rows_count_only_seeds_that_met_a_kind():
    # Seed 1 drew only cooperating personas: a different P is fine, it just is not a defect seed.
    results = [make_result(0.0), make_result(1.0, "seed 1", personas=slice(0, 2))]
    rows = summary_rows(results)
    assert row(rows, "cooperating", "meta-agent").num_seeds == 2
    defect = row(rows, "defecting", "meta-agent")
    assert defect.num_seeds == 1
    np.testing.assert_array_equal(defect.mean, [-2.5, -1.5, -1.5])
    np.testing.assert_array_equal(row(rows, "all", "meta-agent").mean, [-1.25, -0.625, -0.25])


# --- validation -------------------------------------------------------------------------------


def test_validate_results_accepts_different_persona_counts():
    validate_results([make_result(), make_result(personas=slice(1, 3))])


def test_validate_results_rejects_empty_input():
    with pytest.raises(ValueError, match="no meta-test results"):
        validate_results([])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rewards": np.zeros((4, 3))}, r"rewards must be \(P, L\+1, n\)"),
        ({"action_probs": np.zeros((4, 3, 2))}, r"action_probs must be \(P, L\+1, n, A\)"),
        ({"rewards": np.zeros((4, 2, 2))}, r"action_probs shape .* disagrees with rewards shape"),
        ({"persona_kinds": np.array([0, 1, 1])}, r"persona_kinds must be \(P,\) = \(4,\)"),
        ({"persona_kinds": np.array([0.0, 0.0, 1.0, 1.0])}, "persona_kinds must be ints"),
        ({"persona_kinds": np.array([0, 0, 1, 2])}, "persona_kinds must index kind_names"),
        ({"action_names": ("C",)}, "1 action_names"),
    ],
)
def test_validate_results_rejects_inconsistent_shapes_within_a_result(changes, message):
    bad = dataclasses.replace(make_result(), label="bad", **changes)
    with pytest.raises(ValueError, match=f"result 'bad': {message}"):
        validate_results([bad])


@pytest.mark.parametrize(
    ("changes", "what"),
    [
        ({"rewards": BASE_REWARDS[:, :2], "action_probs": np.full((4, 2, 2, 2), 0.5)}, "L\\+1"),
        ({"rewards": BASE_REWARDS[:, :, :1], "action_probs": np.full((4, 3, 1, 2), 0.5)}, "n"),
        ({"action_probs": np.full((4, 3, 2, 3), 1 / 3), "action_names": ("R", "P", "S")}, "A"),
        ({"game": "rps"}, "game"),
        ({"kind_names": ("nice", "mean")}, "kind_names"),
        ({"action_names": ("Cooperate", "Defect")}, "action_names"),
    ],
)
def test_validate_results_rejects_results_that_disagree(changes, what):
    other = dataclasses.replace(make_result(), label="other", **changes)
    with pytest.raises(ValueError, match=f"disagree on the .*{what}: 'seed 0' has .*'other' has"):
        validate_results([make_result(), other])


# --- table ------------------------------------------------------------------------------------


def test_format_table_with_three_seeds():
    text = format_table(three_seeds())
    lines = text.splitlines()
    assert lines[0] == (
        "Meta-test of MetaMAPG on IPD: 3 seed(s); "
        "test personas per seed: cooperating 2, defecting 2"
    )
    assert lines[-1] == AUC_DEFINITION
    # ci = 4.302652729911275 * sqrt(7/3) / sqrt(3) = 3.7946...; AUC ci = 7.5893...
    coop = next(line for line in lines if line.startswith("cooperating  meta-agent"))
    assert re.split(r"\s{2,}", coop) == [
        "cooperating",
        "meta-agent",
        "-0.167 ± 3.795",
        "0.333 ± 3.795",
        "0.833 ± 3.795",
        "1.167 ± 7.589",
    ]
    header = next(line for line in lines if line.startswith("kind"))
    assert header.split() == ["kind", "player", "phi_0", "phi_1", "phi_2", "AUC"]
    assert len({len(line) for line in lines[2:-1] if not line.startswith("-")}) == 1  # aligned


def test_format_table_with_one_seed_has_no_ci():
    text = format_table([make_result()])
    assert "±" not in text
    assert "1 seed(s)" in text.splitlines()[0]
    lines = text.splitlines()
    all_peer = next(line for line in lines if line.startswith("all") and "peer 1" in line)
    assert re.split(r"\s{2,}", all_peer) == [
        "all",
        "peer 1",
        "-1.000",
        "-1.250",
        "-1.500",
        "-2.750",
    ]


# --- figures and report -----------------------------------------------------------------------


def test_plot_adaptation_curves_writes_a_png(tmp_path):
    path = plot_adaptation_curves(
        {"MetaMAPG": three_seeds(), "MetaPG": [make_result(-1.0, "seed 0", "MetaPG")]},
        tmp_path / "figures" / "curves.png",
    )
    assert path == tmp_path / "figures" / "curves.png"
    assert path.stat().st_size > 0
    image = imread(path)
    assert image.shape == (480, 1200, 4)  # two 5 x 4 inch panels at 120 dpi


def test_plot_action_dynamics_writes_a_png(tmp_path):
    path = plot_action_dynamics(make_result(), "cooperating", tmp_path / "dynamics.png")
    assert path.stat().st_size > 0
    image = imread(path)
    assert image.shape[1] / image.shape[0] == 2.5  # two panels side by side
    with pytest.raises(ValueError, match="unknown persona kind"):
        plot_action_dynamics(make_result(), "rock", tmp_path / "rock.png")


def test_write_meta_test_report_round_trips_json(tmp_path):
    results = {"MetaMAPG": three_seeds(), "Meta-PG": [make_result(-1.0, "seed 0", "Meta-PG")]}
    paths = write_meta_test_report(results, tmp_path / "report")
    names = [p.name for p in paths]
    assert names == [
        "adaptation_curves.png",
        "action_dynamics_MetaMAPG_cooperating.png",
        "action_dynamics_MetaMAPG_defecting.png",
        "action_dynamics_Meta-PG_cooperating.png",
        "action_dynamics_Meta-PG_defecting.png",
        "meta_test.json",
    ]
    for path in paths[:-1]:
        assert imread(path).shape[1] / imread(path).shape[0] == 2.5
    loaded = json.loads(paths[-1].read_text())
    assert loaded["auc_definition"] == AUC_DEFINITION
    assert loaded["game"] == "ipd"
    assert loaded["algorithms"]["MetaMAPG"]["labels"] == ["seed 0", "seed 1", "seed 2"]
    for algorithm, seeds in results.items():
        assert loaded["algorithms"][algorithm]["rows"] == [r.to_dict() for r in summary_rows(seeds)]
    single = loaded["algorithms"]["Meta-PG"]["rows"][0]
    assert single["mean"] == [-2.5, -2.0, -1.5]
    assert single["ci95"] == [None, None, None] and single["auc_ci95"] is None
    assert single["num_seeds"] == 1


def test_write_meta_test_report_rejects_incomparable_algorithms(tmp_path):
    rps = dataclasses.replace(make_result(), game="rps")
    with pytest.raises(ValueError, match="game"):
        write_meta_test_report({"A": [make_result()], "B": [rps]}, tmp_path)
    with pytest.raises(ValueError, match="no meta-test results given for algorithm 'A'"):
        write_meta_test_report({"A": []}, tmp_path)


def test_continuous_actions_and_a_diverged_run_in_the_report(tmp_path):
    # 2-agent HalfCheetah: no action probabilities (no action-dynamics plots), one persona kind,
    # and a seed whose adapted policies diverged (-inf reward) written to JSON as null.
    def cheetah(rewards, label):
        return MetaTestResult(
            label=label,
            algorithm="LOLADiCE",
            game="halfcheetah_2x3",
            rewards=np.asarray(rewards, dtype=np.float64),
            action_probs=None,
            persona_kinds=np.zeros(2, np.int64),
            kind_names=("teammate",),
            action_names=(),
        )

    finite = cheetah([[[-1.0, -1.0], [-0.5, -0.5], [0.0, 0.0]]] * 2, "seed 0")
    diverged = cheetah([[[-1.0, -1.0], [-0.5, -0.5], [-np.inf, -np.inf]]] * 2, "seed 1")
    paths = write_meta_test_report({"LOLADiCE": [finite, diverged]}, tmp_path)
    assert [p.name for p in paths] == ["adaptation_curves.png", "meta_test.json"]
    rows = json.loads(paths[-1].read_text())["algorithms"]["LOLADiCE"]["rows"]
    agent = next(r for r in rows if r["kind"] == "all" and r["player"] == "meta-agent")
    assert agent["mean"][:2] == [-1.0, -0.5] and agent["mean"][2] is None
    assert agent["auc_mean"] is None
    assert "-inf" in format_table([finite, diverged])
    with pytest.raises(ValueError, match="action_names without action_probs"):
        validate_results([dataclasses.replace(finite, action_names=("x",))])


def test_a_diverged_curve_is_drawn_off_scale():
    from matplotlib.figure import Figure

    from rllib_meta.algorithms.meta_mapg.meta_test import _clip_diverged

    axes = Figure().subplots()
    axes.plot([0, 1, 2], [-2.0, -8.0, -8.7], label="A")
    axes.plot([0, 1, 2], [-1.9, -4.9, -7.8], label="B")
    _clip_diverged(axes)
    assert [line.get_label() for line in axes.get_lines()] == ["A", "B"]
    axes.plot([0, 1, 2], [-6.0, -8e14, np.nan], label="C")
    _clip_diverged(axes)
    assert axes.get_lines()[2].get_label() == "C (diverged, off scale)"
    low, high = axes.get_ylim()
    assert -12 < low < -8.7 and -1.9 < high < 2
