"""The loss of a training step, shared by the trainer and `zoo bench`."""
import torch
import torch.nn.functional as F

from zoo.train.loss import ctc_training_loss


def test_the_training_loss_is_ctc_in_fp32_and_an_impossible_label_costs_nothing():
    logits = torch.randn(2, 6, 5, generator=torch.Generator().manual_seed(0))
    targets, lengths = torch.tensor([[1, 2, 0], [3, 3, 3]]), torch.tensor([2, 3])
    loss = ctc_training_loss(lambda images: images, logits, targets, lengths)
    expected = F.ctc_loss(logits.log_softmax(-1).transpose(0, 1), targets, torch.tensor([6, 6]), lengths)
    assert torch.allclose(loss, expected)
    too_long = torch.tensor([[1, 1, 1, 1]])  # needs 7 frames (a blank between repeats), 6 are there
    assert ctc_training_loss(lambda images: images, logits[:1], too_long, torch.tensor([4])) == 0
    assert ctc_training_loss(lambda images: images, logits, targets, lengths, bf16=True).dtype == torch.float32
