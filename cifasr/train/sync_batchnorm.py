"""Synchronised BatchNorm for multi-process training, on GPUs and on CPUs.

Per-process BatchNorm normalises each process's share of a global batch with its own statistics,
so N processes do not compute what one process computes on the whole batch. With
``sync_batchnorm: true`` the trainer converts every BatchNorm layer before wrapping the model in
DDP: on CUDA into :class:`torch.nn.SyncBatchNorm` (its fused kernels), on the CPU into
:class:`CpuSyncBatchNorm` below, because ``torch.nn.SyncBatchNorm`` accepts GPU inputs only.

Both keep the parameter and buffer names of the layer they replace, so checkpoints load into
the unconverted model (inference, averaging) unchanged.

The statistics are those of the frames the layers see, padding included (the conformer's
convolution module normalises its padded batch): N processes then equal one process exactly when
each process's share of a global batch pads to the global batch's length, and up to the effect
of the padded frames otherwise.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class _AllReduceSum(torch.autograd.Function):
    """Differentiable sum over processes: the gradient of a sum is the sum of the gradients."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:  # noqa: ANN401
        out = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN401
        return _AllReduceSum.apply(grad)


class CpuSyncBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics are those of the global batch over all processes.

    Mean and variance are computed in two passes (sum and count, then the sum of squared
    deviations), each one all-reduce over the default process group; gradients flow through both
    reductions, so the backward pass is that of BatchNorm over the whole global batch. Evaluation
    uses the running statistics and communicates nothing. Works with any backend (gloo on CPUs).

    Inputs: (B, C) or (B, C, *) -> the same shape.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` (B, C, *) with the statistics of every process's batch."""
        self._check_input_dim(x)
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        if dist.get_world_size() == 1:
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float()
        count = torch.full((1,), float(xf.numel() // xf.size(1)), dtype=xf.dtype, device=x.device)
        sums = _AllReduceSum.apply(torch.cat([xf.sum(dims), count]))
        n = sums[-1]
        mean = sums[:-1] / n
        centred = xf - mean.view(shape)
        var = _AllReduceSum.apply((centred * centred).sum(dims)) / n
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                if self.momentum is None:  # cumulative moving average, as _BatchNorm
                    factor = 1.0 / float(self.num_batches_tracked)
                else:
                    factor = self.momentum
                unbiased = var.detach() * (n.detach() / (n.detach() - 1).clamp(min=1))
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), factor)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
        return y.to(x.dtype)


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm layer of ``module`` by its synchronised version for ``device``.

    Args:
        module: the model (modified in place; returned, as it may be the layer itself).
        device: where the model runs; CUDA uses :class:`torch.nn.SyncBatchNorm`, other devices
            :class:`CpuSyncBatchNorm`.

    Returns:
        the converted module.
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    out = module
    if isinstance(module, _BatchNorm) and not isinstance(module, CpuSyncBatchNorm):
        out = CpuSyncBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
            device=device,
        )
        if module.affine:
            with torch.no_grad():
                out.weight = module.weight
                out.bias = module.bias
        out.running_mean = module.running_mean
        out.running_var = module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.training = module.training
    for name, child in module.named_children():
        out.add_module(name, convert_sync_batchnorm(child, device))
    return out
