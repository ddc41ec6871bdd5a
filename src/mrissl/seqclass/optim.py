"""The pretraining recipes' optimisers: SimCLR's LARS with warm-up and cosine decay, SimSiam's SGD.

Paper 000 gives no optimiser; each method here follows its own paper:

- **SimCLR** (Chen et al. 2020, Section B.1 and the reference ``lars_optimizer.py``): LARS, momentum
  0.9, learning rate 0.3 x batch / 256, linear warm-up (10 epochs at 100+ epochs), cosine decay
  without restarts, weight decay 1e-6; biases and batch-norm parameters get neither weight decay
  nor the layer-wise trust ratio (``exclude_from_weight_decay`` / ``exclude_from_layer_adaptation``).
- **SimSiam** (Chen & He 2021, Section 4): SGD, momentum 0.9, lr 0.05 x batch / 256, weight decay
  1e-4, cosine decay, no warm-up.

LARS step for a parameter w with gradient g (the reference's "classic momentum" form):

    g <- g + wd * w                        (unless excluded)
    trust = eta * ||w|| / ||g||            (1 when excluded or either norm is 0)
    v <- m * v + lr * trust * g;   w <- w - v

No torchvision-free package provides it (lightly's LARS imports torchvision), so it is written out.
"""

from __future__ import annotations

import math

import torch
from torch import nn

OPTIMIZERS = ("lars", "sgd")
# Modules whose parameters are "norms" in the SimCLR sense (the reference matches 'batch_normalization').
NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


class LARS(torch.optim.Optimizer):
    """Layer-wise adaptive rate scaling (You et al. 2017) as SimCLR's reference implementation does it.

    Parameter groups with ``lars=False`` are plain momentum SGD without weight decay (biases, norms).
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 1e-6, eta: float = 1e-3):
        if lr <= 0 or eta <= 0:
            raise ValueError(f"LARS needs lr > 0 and eta > 0, got lr={lr}, eta={eta}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, lars=True))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else torch.enable_grad()(closure)()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                scaled_lr = group["lr"]
                if group["lars"]:
                    grad = grad.add(param, alpha=group["weight_decay"])
                    w_norm, g_norm = torch.linalg.vector_norm(param), torch.linalg.vector_norm(grad)
                    trust = torch.where((w_norm > 0) & (g_norm > 0), group["eta"] * w_norm / g_norm,
                                        torch.ones_like(w_norm))
                    scaled_lr = scaled_lr * trust
                state = self.state[param]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(param)
                velocity = state["momentum_buffer"]
                velocity.mul_(group["momentum"]).add_(grad * scaled_lr)
                param.sub_(velocity)
        return loss


def excluded_from_lars(model: nn.Module) -> set[str]:
    """Names of the parameters that SimCLR excludes from weight decay and layer adaptation: biases and norms."""
    names = set()
    for module_name, module in model.named_modules():
        for name, _ in module.named_parameters(prefix=module_name, recurse=False):
            if isinstance(module, NORM_TYPES) or name.rsplit(".", 1)[-1] == "bias":
                names.add(name)
    return names


def pretraining_optimizer(model: nn.Module, optimizer: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """``lars`` (biases and norms excluded, as SimCLR) or ``sgd`` (momentum 0.9, as SimSiam) at ``lr``."""
    if optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    if optimizer != "lars":
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {OPTIMIZERS}")
    excluded = excluded_from_lars(model)
    named = list(model.named_parameters())
    return LARS([{"params": [p for n, p in named if n not in excluded]},
                 {"params": [p for n, p in named if n in excluded], "lars": False, "weight_decay": 0.0}],
                lr=lr, weight_decay=weight_decay)


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int):
    """Linear warm-up from lr / warmup_steps to lr over ``warmup_steps``, then cosine decay to 0 at ``total_steps``."""
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(f"warm-up of {warmup_steps} steps must be shorter than the {total_steps} steps of the run")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
