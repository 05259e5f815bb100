"""MRA, Meta Representations for Agents (paper 002, Zhang et al.): latent relational policies
for population-varying particle worlds, trained with mutual-information objectives and
Reptile outer steps.

The math and the networks, pure torch:

* :mod:`.attention`: masked softmax over entity tokens, which other agent each ``others`` slot
  holds, the masks read from the particle worlds' observations;
* :mod:`.latent`: ``p_psi(z | m)`` and the latent draws (hard Gumbel-softmax, uniform);
* :mod:`.networks`: the entity encoders, the relation network ``g = phi(o, z)`` (option,
  concat, bilinear), the policy ``pi(a | o, g)``, the attention critic ``Q(o, a, g)``, the
  MG-index classifier ``xi`` and :class:`~.networks.MRANetworks`, one role's set of them;
* :mod:`.losses`: the soft Q target and critic loss (Eq. 8), the policy loss (Eq. 9), the
  contrastive bound of ``I(g; a | o)`` (Eq. 11), the classifier's cross-entropy (Eqs. 12-13),
  the Polyak target update.

The RLlib algorithm on the shared base: :mod:`.populations` (the training MGs), :mod:`.config`,
:mod:`.rl_module` (one network set per role), :mod:`.env_runner` (every MG sampled at once on
the batched particle core), :mod:`.replay` (one buffer per MG), :mod:`.learner` (Algorithm 4's
updates), :mod:`.algorithm` and :mod:`.evaluation` (``rllib evaluate``). The Reptile outer step
(Eq. 6) is generic and lives in :mod:`rllib_meta.core.reptile`.
"""
