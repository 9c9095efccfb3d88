"""The loss of one training step: the forward pass (under bf16 autocast when asked) and CTC in fp32.

The trainer and ``zoo bench``'s training step both call it, so the step whose speed is measured is
the step that trains."""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F


def ctc_training_loss(net, images: torch.Tensor, targets: torch.Tensor, target_lengths: torch.Tensor,
                      bf16: bool = False) -> torch.Tensor:
    """The mean CTC loss of ``net`` on ``images``; class 0 is the blank, and an impossible alignment
    (a label too long for the frames) counts as 0 instead of infinity."""
    autocast = torch.autocast(images.device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    with autocast:
        logits = net(images)
    # fp32 under autocast too: bf16 log-probabilities would round the CTC sums
    log_probs = logits.float().log_softmax(-1).transpose(0, 1)  # (frames, batch, classes) for CTC
    lengths = torch.full((log_probs.shape[1],), log_probs.shape[0], dtype=torch.long)
    return F.ctc_loss(log_probs, targets, lengths, target_lengths, blank=0, zero_infinity=True)
