"""The training loss of study ``clip`` (paper 003, Listing 1): the symmetric InfoNCE of CLIP.

``clip_loss(image_features, text_features, logit_scale)``: features L2-normalised, ``logit_scale``
the multiplier exp(s) of the learned temperature s, logits = logit_scale * I @ T.T, and the loss the
mean of the cross-entropy over the logits (each image against all texts) and over their transpose
(each text against all images), the matching pair on the diagonal. It lives in the shared layer
(``mrissl.contrastive``) because reportcl's ablation uses the same formula; re-exported here.
"""

from __future__ import annotations

from mrissl.contrastive import clip_loss

__all__ = ["clip_loss"]
