"""In-batch contrastive losses shared by several studies.

``clip_loss`` is the symmetric InfoNCE of CLIP (Radford et al. 2021, Listing 1; paper 003, Listing 1):
with L2-normalised image features I and text features T of the same N pairs, logits = s * I @ T.T
where s = exp(learned log-temperature) is the multiplier; the loss is the mean of the cross-entropy
of each image over the N texts and of each text over the N images, the matching pair on the diagonal.
clip uses it as its training loss, reportcl as the "contrastive instead of triplet" ablation.
Computed in float32 whatever the autocast dtype of the inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def clip_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor | float) -> torch.Tensor:
    """Symmetric InfoNCE of N matching (image, text) pairs, (N, D) each; ``logit_scale`` the multiplier exp(s)."""
    image = F.normalize(image_features.float(), dim=1)
    text = F.normalize(text_features.float(), dim=1)
    logits = logit_scale * image @ text.T
    targets = torch.arange(len(logits), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))
