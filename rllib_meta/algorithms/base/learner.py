"""``FunctionalLearner``: the RLlib ``TorchLearner`` that every rllib-meta algorithm learns on.

These algorithms learn from whole structures (chains of joint policies, strides of policy
pairs, episodes of one side) through their own update methods, so RLlib's batch ``update()``
is refused with a message naming the right entry point. RLlib's optimizer registration,
state and checkpointing are reused as they are.

RLlib post-processes gradients (``grad_clip`` by ``grad_clip_by``, gradient logging) only
inside ``Learner.update()``; a Learner that bypasses it and calls ``apply_gradients`` itself
silently ignores ``grad_clip``. :meth:`FunctionalLearner.apply_parameter_gradients` is the one
step all of them take instead: clear every gradient, RLlib's ``postprocess_gradients`` (per
optimizer, as ``update()`` would), then ``apply_gradients``.
"""

import os
from collections.abc import Iterable, Mapping
from typing import ClassVar

import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.learner.torch.torch_learner import TorchLearner


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The RLModule inside a (possibly DDP-wrapped) module."""
    return module.unwrapped() if hasattr(module, "unwrapped") else module


class FunctionalLearner(TorchLearner):
    """One torch thread (unless OMP_NUM_THREADS says otherwise: tiny models run 5-20x slower
    with torch's default on small CPUs), the unwrapped module, the refusal of ``update()`` and
    the shared optimizer step (see the module docstring)."""

    # The update method(s) the algorithm calls, and what they learn from: for the refusal.
    UPDATE_METHODS: ClassVar[str] = ""
    LEARNS_FROM: ClassVar[str] = ""

    def build(self) -> None:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        super().build()

    @property
    def rl_module(self) -> torch.nn.Module:
        """The default module, unwrapped."""
        return unwrap(self.module[DEFAULT_MODULE_ID])

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        raise NotImplementedError(
            f"{type(self).__name__} learns from {self.LEARNS_FROM}: call "
            f"{self.UPDATE_METHODS}, not update()."
        )

    def apply_parameter_gradients(
        self, gradients: Mapping[torch.nn.Parameter, torch.Tensor]
    ) -> dict[torch.nn.Parameter, torch.Tensor]:
        """One optimizer step on ``gradients`` (parameter -> gradient), post-processed as
        RLlib's ``update()`` would (``grad_clip`` per optimizer). Parameters left out get no
        gradient, so their optimizers leave them as they are. Returns the gradients applied."""
        for optimizer in self._optimizer_parameters:
            optimizer.zero_grad(set_to_none=True)
        refs = {self.get_param_ref(param): param for param in gradients}
        processed = self.postprocess_gradients(
            {self.get_param_ref(param): grad for param, grad in gradients.items()}
        )
        self.apply_gradients(processed)
        return {refs[ref]: grad for ref, grad in processed.items()}

    def step_on_loss(
        self, loss: torch.Tensor, params: Iterable[torch.nn.Parameter]
    ) -> dict[torch.nn.Parameter, torch.Tensor]:
        """Descend ``loss`` by one optimizer step on ``params`` (the others stay as they
        are); returns the gradients applied (after clipping)."""
        params = list(params)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        return self.apply_parameter_gradients(
            {p: torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)}
        )


def global_norm(gradients: Iterable[torch.Tensor]) -> float:
    """The L2 norm of all ``gradients`` together (what ``grad_clip`` bounds)."""
    return float(torch.linalg.vector_norm(torch.stack([g.norm() for g in gradients])))
