"""Meta-MAPG and its baselines Meta-PG, LOLA-DiCE and REINFORCE (Kim et al., paper 001 / ICML
appendix 000), as RLlib algorithms.

RLlib layer: ``config.py`` (MetaMAPGConfig), ``algorithm.py`` (the Algorithm classes,
meta-validation, meta-testing), ``env_runner.py`` (chain sampling), ``learner.py`` (the
meta-gradient step), ``rl_module.py`` (the meta-agent as an RLModule).

Engine, plain torch and functional (parameters passed as dicts) so that the inner loop can be
replayed with ``create_graph=True``: ``agent.py`` and ``networks.py`` (LSTM policy and value
networks, paper App. C.1; tabular peers), ``chain.py`` (unrolling both agents' inner updates,
Eq. 4), ``sampling.py`` (chains on the batched matrix-game core), ``objectives.py`` (inner DiCE
objectives, LOLA-DiCE look-ahead, the outer surrogate of Eq. 6), ``meta_gradient.py`` (the
Learner's losses per chain), ``opponent_modeling.py`` (App. B).
"""
