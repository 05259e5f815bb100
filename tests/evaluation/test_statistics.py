"""95% confidence intervals across seeds (paper 001 Fig. 2: mean and 95% CI over seeds)."""

import math
import sys

import numpy as np
import pytest

from rllib_meta.evaluation.statistics import mean_and_ci95, t_quantile_975

T_2_DOF = 4.302652729911275  # t_{0.975, 2} = 0.95 / sqrt(2 * 0.975 * 0.025)


def test_t_quantile_with_scipy_and_with_the_fallback_table(monkeypatch):
    assert t_quantile_975(2) == pytest.approx(T_2_DOF, rel=1e-9)
    with_scipy = [t_quantile_975(dof) for dof in range(1, 32)]
    monkeypatch.setitem(sys.modules, "scipy.stats", None)  # makes the import fail
    without_scipy = [t_quantile_975(dof) for dof in range(1, 32)]
    assert without_scipy[1] == pytest.approx(T_2_DOF, rel=1e-11)
    assert without_scipy[:30] == pytest.approx(with_scipy[:30], rel=1e-9)
    assert without_scipy[30] == 1.96
    with pytest.raises(ValueError, match="at least 1 degree of freedom"):
        t_quantile_975(0)


def test_mean_and_ci95_across_three_seeds():
    mean, ci = mean_and_ci95(np.array([[0.0, 2.0], [1.0, 2.0], [3.0, 2.0]]))
    np.testing.assert_allclose(mean, [4.0 / 3.0, 2.0], rtol=1e-12)
    np.testing.assert_allclose(ci, [T_2_DOF * math.sqrt(7.0 / 3.0) / math.sqrt(3.0), 0.0])
