"""Validation during training on real word crops: folders of real words (``gt.txt`` + images, e.g.
../shared/data/dev/*, cut from benchmarks' *training* splits) that are never trained on.

Rendered validation words say how well a model reads the renderer; real ones say how well that
transfers, which is what checkpoints, schedules and renderer settings should be chosen on. Words are
scored like IC15-2077 (case-insensitive, other characters than letters and digits dropped).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from zoo.data.benchmarks import get_protocol, load_benchmark, preprocess_samples
from zoo.decode.ctc import greedy_decode

PROTOCOL = "alphanumeric-strip"
MAX_NAMED = 20  # skipped validation samples named in the log


class RealWords:
    """One folder of real validation words, preprocessed once and batched by width."""

    def __init__(self, folder: str | Path, preprocess, limit: int = 0, batch_size: int = 64):
        protocol = get_protocol(PROTOCOL)
        samples = [s for s in load_benchmark(folder).samples if protocol.exclusion(s.label) is None]
        samples = samples[:limit] if limit else samples
        if not samples:
            raise ValueError(f"data.real_val: {folder} holds no word the {PROTOCOL} protocol keeps")
        self.name = Path(folder).name
        self.protocol = protocol
        self.truths = [protocol.normalise(s.label) for s in samples]
        tensors = preprocess_samples(samples, preprocess)
        by_width: dict[int, list[int]] = {}
        for index, tensor in enumerate(tensors):
            by_width.setdefault(tensor.shape[-1], []).append(index)
        self.batches = [(chunk, torch.stack([tensors[i] for i in chunk]))
                        for indices in by_width.values()
                        for chunk in (indices[s:s + batch_size] for s in range(0, len(indices), batch_size))]

    def __len__(self) -> int:
        return len(self.truths)

    @torch.no_grad()
    def accuracy(self, model, device: torch.device) -> float:
        """Lexicon-free (greedy) word accuracy of ``model`` in eval mode, as a fraction."""
        predictions = [""] * len(self.truths)
        for chunk, images in self.batches:
            logits = model(images.to(device, memory_format=torch.channels_last))
            for i, word in zip(chunk, greedy_decode(logits, model.config.charset)):
                predictions[i] = self.protocol.normalise(word)
        return sum(p == t for p, t in zip(predictions, self.truths)) / len(self.truths)


@torch.no_grad()
def validate(model, val_loader, real_val: list[RealWords], charset: str, device: torch.device) -> dict:
    """Word accuracy of ``model`` (in eval mode) on the held-out rendered words (``val_loader``, None
    for none) and on each folder of real words: what the trainer logs and picks best.pt on."""
    model.eval()
    result = {}
    if val_loader is not None:
        correct = total = 0
        dropped = []  # samples the collate left out (undecodable, too narrow): named, never silently fewer
        for batch in val_loader:
            dropped += batch.dropped
            if batch.images is None:  # every sample of this batch was left out
                continue
            predictions = greedy_decode(model(batch.images.to(device, memory_format=torch.channels_last)), charset)
            correct += sum(p == t for p, t in zip(predictions, batch.labels))
            total += len(batch)
        result.update(val_accuracy=correct / max(total, 1), val_samples=total)
        if dropped:
            result.update(val_skipped=dict(Counter(s.reason for s in dropped)),
                          val_skipped_samples=[s.index for s in dropped[:MAX_NAMED]],
                          val_skipped_example=dropped[0].detail or dropped[0].reason)
    if real_val:
        real = {words.name: words.accuracy(model, device) for words in real_val}
        result.update(real_val_accuracy=real, real_val_mean=sum(real.values()) / len(real))
    return result


def selected_accuracy(result: dict, select_on: str) -> float:
    """The accuracy of a ``validate`` result that picks best.pt (``train.select_on``)."""
    return result["real_val_mean"] if select_on == "real" else result["val_accuracy"]


def validation_summary(result: dict) -> str:
    parts = []
    if "val_accuracy" in result:
        parts.append(f"{100 * result['val_accuracy']:.2f}% of {result['val_samples']} held-out rendered words"
                     + _skipped_note(result))
    parts += [f"{100 * acc:.2f}% of real {name}" for name, acc in result.get("real_val_accuracy", {}).items()]
    return "validation word accuracy " + ", ".join(parts)


def _skipped_note(result: dict) -> str:
    """Which held-out samples were left out and why: the accuracy is of fewer words than the set holds."""
    skipped = result.get("val_skipped")
    if not skipped:
        return ""
    count, named = sum(skipped.values()), result["val_skipped_samples"]
    reasons = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in skipped.items())
    more = f" and {count - len(named)} more" if count > len(named) else ""
    return (f" ({count} left out: {reasons}; sample(s) {', '.join(map(str, named))}{more}; e.g. "
            f"{result['val_skipped_example']}; `zoo data verify` lists them)")


def refuse_as_training(train: str, real_val: list[str]) -> None:
    """A real validation folder (or anything inside one) given as training data is an error: those
    words choose checkpoints, so training on them would make every choice look better than it is."""
    target = Path(train).resolve()
    for folder in real_val:
        root = Path(folder).resolve()
        if target == root or root in target.parents:
            raise ValueError(f"data.train {train!r} is the real validation folder {folder!r} (data.real_val) or "
                             f"inside it: validation words are never trained on; train on rendered words")
