"""Learning with learning awareness on differentiable games (paper 004): MeVa, COLA, LOLA,
HOLA and naive learning (see :mod:`.algorithm`); ``learning_dynamics.py`` is their evaluation
for ``rllib evaluate`` (Figs. 2 and 3). The rules' gradient fields are
:mod:`rllib_meta.core.rule_fields`, shared by training and evaluation."""
