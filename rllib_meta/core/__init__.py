"""Shared math of the Meta-MAPG family (Kim et al. 2021, papers 000/001; reference.md section 2).

Submodules, imported on demand so that importing :mod:`rllib_meta.core` stays cheap:

* :mod:`~rllib_meta.core.dice`: DiCE objective and magic box (Foerster et al. 2018) with the
  any-order baseline term of Mao et al. (2019);
* :mod:`~rllib_meta.core.baselines`: linear feature baseline (Duan et al. 2016);
* :mod:`~rllib_meta.core.advantages`: discounted returns and GAE (Schulman et al. 2016);
* :mod:`~rllib_meta.core.pcgrad`: PCGrad across the meta-batch (Yu et al. 2020);
* :mod:`~rllib_meta.core.personas`: the IPD and RPS persona populations (paper 001, App. E).
"""
