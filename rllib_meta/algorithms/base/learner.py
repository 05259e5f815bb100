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

A non-finite loss or gradient (NaN, inf: a diverged value estimate, a log of zero) is not
applied: Adam's moment estimates would hold the NaN forever and every later step would write it
into the weights. That step is skipped with a warning, weights and optimizer states untouched,
and counted (``num_non_finite_updates_skipped``; ``MetaAlgorithm.update_on_learners`` reports
it as ``learner_faults/non_finite_updates_skipped``). This is a deviation from the papers, which
do not say what to do with a non-finite update.
"""

import logging
import os
from collections.abc import Iterable, Mapping
from typing import ClassVar

import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.learner.torch.torch_learner import TorchLearner

logger = logging.getLogger(__name__)


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

    # Optimizer steps skipped for a non-finite loss or gradient (see the module docstring),
    # and whether the last step was one of them.
    num_non_finite_updates_skipped: int = 0
    last_update_skipped: bool = False

    def build(self) -> None:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        super().build()

    def register_torch_optimizer(
        self,
        module_id: str,
        name: str,
        params: list[torch.nn.Parameter],
        lr: float,
        optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam,
        **options,
    ) -> None:
        """``optimizer_class(params, lr=lr, **options)`` registered with RLlib under ``name``
        (so RLlib checkpoints it and its learning rate, and grad_clip applies to it)."""
        self.register_optimizer(
            module_id=module_id,
            optimizer_name=name,
            optimizer=optimizer_class(params, lr=lr, **options),
            params=params,
            lr_or_lr_schedule=lr,
        )

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
        gradient, so their optimizers leave them as they are. Returns the gradients applied;
        a step with a non-finite gradient is skipped (module docstring) and returns the
        gradients as given."""
        bad = [i for i, grad in enumerate(gradients.values()) if not torch.isfinite(grad).all()]
        if bad:
            return self._skip(
                f"non-finite gradient for {len(bad)} of {len(gradients)} "
                f"parameter tensors (first: #{bad[0]})",
                dict(gradients),
            )
        self.last_update_skipped = False
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
        are); returns the gradients applied (after clipping). A non-finite ``loss`` skips
        the step (module docstring) and returns no gradients."""
        params = list(params)
        if not torch.isfinite(loss).all():
            return self._skip(f"non-finite loss {float(loss.detach().sum())}", {})
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        return self.apply_parameter_gradients(
            {p: torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)}
        )

    def _skip(
        self, reason: str, gradients: dict[torch.nn.Parameter, torch.Tensor]
    ) -> dict[torch.nn.Parameter, torch.Tensor]:
        self.num_non_finite_updates_skipped += 1
        self.last_update_skipped = True
        logger.warning(
            "%s: %s; this update is skipped (weights and optimizer state unchanged; %d "
            "skipped so far).",
            type(self).__name__,
            reason,
            self.num_non_finite_updates_skipped,
        )
        return gradients


def global_norm(gradients: Iterable[torch.Tensor]) -> float:
    """The L2 norm of all ``gradients`` together (what ``grad_clip`` bounds)."""
    return float(torch.linalg.vector_norm(torch.stack([g.norm() for g in gradients])))
