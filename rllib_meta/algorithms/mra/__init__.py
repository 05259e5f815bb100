"""MRA, Meta Representations for Agents (paper 002, Zhang et al.): latent relational policies
for population-varying particle worlds, trained with mutual-information objectives and
Reptile outer steps.

In progress (issue 13). This folder holds the math and the networks, pure torch:

* :mod:`.attention`: masked softmax over entity tokens, which other agent each ``others`` slot
  holds, the masks read from the particle worlds' observations;
* :mod:`.latent`: ``p_psi(z | m)`` and the latent draws (hard Gumbel-softmax, uniform);
* :mod:`.networks`: the entity encoders, the relation network ``g = phi(o, z)`` (option,
  concat, bilinear), the policy ``pi(a | o, g)``, the attention critic ``Q(o, a, g)``, the
  MG-index classifier ``xi`` and :class:`~.networks.MRANetworks`, one role's set of them;
* :mod:`.losses`: the soft Q target and critic loss (Eq. 8), the policy loss (Eq. 9), the
  contrastive bound of ``I(g; a | o)`` (Eq. 11), the classifier's cross-entropy (Eqs. 12-13),
  the Polyak target update.

The Reptile outer step (Eq. 6) is generic and lives in :mod:`rllib_meta.core.reptile`. The
RLlib Algorithm, Learner, RLModule and EnvRunner are not written yet.
"""
