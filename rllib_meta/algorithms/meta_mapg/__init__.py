"""Meta-MAPG and its baselines Meta-PG, LOLA-DiCE and REINFORCE (Kim et al., paper 001 / ICML
appendix 000), as RLlib algorithms.

RLlib layer: ``config.py`` (MetaMAPGConfig), ``algorithm.py`` (the Algorithm classes,
meta-validation), ``env_runner.py`` (chain sampling), ``learner.py`` (the meta-gradient step),
``rl_module.py`` (the meta-agent as an RLModule). Evaluation: ``meta_test.py`` (meta-testing
for ``rllib evaluate``: tables, AUC, 95% CIs across seeds, Figs. 2 and 9-16).

Engine, plain torch and functional (parameters passed as dicts) so that the inner loop can be
replayed with ``create_graph=True``: ``agent.py`` and ``networks.py`` (LSTM policy and value
networks, paper App. C.1), ``distributions.py`` (categorical or diagonal-Gaussian policy head),
``peers.py`` (tabular peers, or peers with network policies), ``chain.py`` (unrolling both
agents' inner updates, Eq. 4), ``sampling.py`` (chains on the batched matrix-game core),
``cheetah.py`` (chains on K cheetahs),
``objectives.py`` (inner DiCE objectives, LOLA-DiCE look-ahead, the outer surrogate of Eq. 6),
``meta_gradient.py`` (the Learner's losses per chain), ``opponent_modeling.py`` (App. B,
tabular peers). ``teammates.py``: the 2-agent HalfCheetah teammate population (App. E.3) and
the command that pre-trains it.

``sampling.py`` and ``env_runner.py``'s ``MetaMAPGEnvRunner`` play chains on the matrix
games; ``cheetah.py`` and ``MetaMAPGCheetahEnvRunner`` on 2-agent HalfCheetah
(``halfcheetah_2x3``: a Gaussian meta-agent, a teammate from the population as a
``NetworkPeers``), through the same ``sampling.play_chain``; the config picks the EnvRunner
from the env. The chain, the objectives and the meta-gradient are shared as they are;
opponent modeling is for tabular peers only.
"""
