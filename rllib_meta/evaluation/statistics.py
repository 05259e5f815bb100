"""95% confidence intervals shared by the evaluations.

* :data:`Z_95`: the normal quantile of the generic episode evaluation
  (:mod:`rllib_meta.evaluation.episodes`: many episodes, so a normal interval);
* :func:`t_quantile_975` and :func:`mean_and_ci95`: Student t intervals across a few seeds
  (meta-testing, paper 001 Fig. 2: mean and 95% CI over seeds).
"""

import math

import numpy as np

__all__ = ["CI_LEVEL", "Z_95", "mean_and_ci95", "t_quantile_975"]

CI_LEVEL = 0.95
Z_95 = 1.959964  # two-sided 95% normal quantile
# Two-sided 95% Student t quantiles t_{0.975, dof} for dof = 1..30, used when scipy is missing;
# above 30 degrees of freedom the normal quantile is close enough.
_T_975_TABLE: tuple[float, ...] = (
    12.7062047362, 4.30265272991, 3.18244630528, 2.77644510520, 2.57058183564,
    2.44691185114, 2.36462425159, 2.30600413520, 2.26215716280, 2.22813885199,
    2.20098516009, 2.17881282967, 2.16036865646, 2.14478668792, 2.13144954556,
    2.11990529922, 2.10981557783, 2.10092204024, 2.09302405441, 2.08596344727,
    2.07961384473, 2.07387306790, 2.06865761042, 2.06389856163, 2.05953855275,
    2.05552943864, 2.05183051648, 2.04840714180, 2.04522964213, 2.04227245630,
)  # fmt: skip
_Z_975 = 1.96


def t_quantile_975(dof: int) -> float:
    """Two-sided 95% Student t quantile ``t_{0.975, dof}`` for the CIs of paper 001 Fig. 2."""
    if dof < 1:
        raise ValueError(f"the t quantile needs at least 1 degree of freedom, got {dof}")
    try:
        from scipy.stats import t as student_t
    except ImportError:  # scipy is optional: fall back on the table, then the normal quantile
        return _T_975_TABLE[dof - 1] if dof <= len(_T_975_TABLE) else _Z_975
    return float(student_t.ppf(0.5 + CI_LEVEL / 2, dof))


def mean_and_ci95(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds (axis 0) and the 95% CI half-width ``t * std(ddof=1) / sqrt(n)``.

    The CI is NaN with one seed: a spread cannot be estimated from a single sample
    (paper 001 Fig. 2 shows mean and 95% CI over 10 seeds).
    """
    values = np.asarray(values, dtype=np.float64)
    num_seeds = values.shape[0]
    if num_seeds < 1:
        raise ValueError("mean_and_ci95 needs at least one seed")
    mean = values.mean(axis=0)
    if num_seeds == 1:
        return mean, np.full_like(mean, np.nan)
    std = values.std(axis=0, ddof=1)
    return mean, t_quantile_975(num_seeds - 1) * std / math.sqrt(num_seeds)
