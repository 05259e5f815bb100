"""Math shared by the algorithms (and by their training and evaluation), one home each.

``core`` is below the algorithms and the evaluations: it imports nothing from
:mod:`rllib_meta.algorithms`, :mod:`rllib_meta.evaluation` or :mod:`rllib_meta.cli`
(``tests/test_layering.py`` checks this; docs/architecture.md has the whole rule).
Submodules, imported on demand so that importing :mod:`rllib_meta.core` stays cheap:

* :mod:`~rllib_meta.core.dice`: DiCE objective and magic box (Foerster et al. 2018) with the
  any-order baseline term of Mao et al. (2019) -- Meta-MAPG and LOLA-DiCE;
* :mod:`~rllib_meta.core.baselines`: linear feature baseline (Duan et al. 2016) -- the peers'
  inner-loop step of Meta-MAPG;
* :mod:`~rllib_meta.core.advantages`: discounted returns and GAE (Schulman et al. 2016) --
  Meta-MAPG, Stackelberg;
* :mod:`~rllib_meta.core.pcgrad`: PCGrad across the meta-batch (Yu et al. 2020) -- Meta-MAPG;
* :mod:`~rllib_meta.core.policy_gradients`: REINFORCE, PPO's clipped surrogate, the
  least-squares Q fit -- Stackelberg;
* :mod:`~rllib_meta.core.learning_rules`: naive, exact LOLA, HOLA-n and COLA's consistency loss
  as gradient fields of differentiable two-player games (paper 004);
* :mod:`~rllib_meta.core.rule_fields`: learning rule name -> gradient field, including MeVa's
  ``(1 - gamma) f + gamma U_hat`` objective -- what MeVa's EnvRunner follows and what its
  learning-dynamics evaluation replays;
* :mod:`~rllib_meta.core.quantile`: lambda-returns and the quantile Huber loss (paper 004);
* :mod:`~rllib_meta.core.reptile`: the Reptile outer step ``theta + alpha (U^K(theta) -
  theta)`` (Nichol et al. 2018) -- MRA (paper 002, Eq. 6).

The persona populations of Meta-MAPG's peers are data about the matrix games, not math: they
live in :mod:`envs.matrix.personas`.
"""
