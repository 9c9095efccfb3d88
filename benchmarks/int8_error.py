"""Where int8 inference loses accuracy: the backbone or the BiLSTM head (docs/performance.md).

For each shipped model, ``zoo.quantize.quantize_int8`` (the ``zoo eval --precision int8``
path, calibrated on 256 rendered words) is taken apart: the backbone quantized with the head in
fp32, the head quantized with the backbone in fp32, and both. Each is measured on held-out rendered
words (the recipe's validation set, never IC03: this diagnosis must not select anything on the
benchmark) by:

- greedy word accuracy, case-insensitive alphanumeric;
- the backbone's feature error, |int8 - fp32| / |fp32| over the whole batch;
- output frames whose greedy class differs from fp32's (%).

Then, for each layer whose recurrent weights are shared over steps (RCNN), the largest |input| and
|output| of its recurrent convolution at each step, fp32, on 64 rendered calibration words: the
range one activation scale would have to cover if all steps were observed as one module.

    python benchmarks/int8_error.py [--data runs/data/synth-val-1k.lmdb] [--out docs/results/int8_error]
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zoo.data.benchmarks import get_protocol, load_benchmark  # noqa: E402
from zoo.evaluate import evaluate, model_log_probs  # noqa: E402
from zoo.factory import load_model, shipped_models  # noqa: E402
from zoo.data.transforms import Preprocess  # noqa: E402
from zoo.quantize import calibration_images, quantize_int8  # noqa: E402
from zoo.models.recurrent import RecurrentConvLayer  # noqa: E402
from zoo.report import console, rich_table, write_table  # noqa: E402


def variants(model, int8) -> dict:
    """fp32, int8 backbone only, int8 head only, int8 (both)."""
    backbone_only, head_only = copy.deepcopy(model), copy.deepcopy(model)
    backbone_only.backbone, head_only.head = int8.backbone, int8.head
    return {"fp32": model, "int8 backbone": backbone_only, "int8 head": head_only, "int8": int8}


@torch.inference_mode()
def feature_error(model, int8, samples, count: int = 256) -> float:
    """|int8 - fp32| / |fp32| of the backbone's features on the first ``count`` samples."""
    preprocess = Preprocess.from_config(model.config, width_policy="fixed")
    images = torch.stack([preprocess(sample.load()) for sample in samples[:count]])
    reference = model.backbone(images)
    return ((int8.backbone(images) - reference).norm() / reference.norm()).item()


@torch.inference_mode()
def recurrent_ranges(name: str, model, images: torch.Tensor) -> list[dict]:
    """Per step of every shared-weight recurrent layer: max |input| and |output| of its recurrent conv."""
    rows = []
    for index, layer in enumerate(model.backbone.features):
        if isinstance(layer, RecurrentConvLayer) and layer.share_weights:
            seen = []
            hook = layer.rec_conv[0].register_forward_hook(
                lambda module, inputs, output: seen.append((inputs[0].abs().amax().item(), output.abs().amax().item())))
            model.backbone(images)
            hook.remove()
            rows += [{"model": name, "layer": f"features.{index}", "step": step + 1,
                      "max |input|": round(i, 1), "max |output|": round(o, 1)} for step, (i, o) in enumerate(seen)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="runs/data/synth-val-1k.lmdb",
                        help="held-out rendered words; the default is the CPU recipes' validation set, rendered by "
                             "`zoo data synth --n 1000 --seed 2 --out runs/data/synth-val-1k.lmdb` (or any zoo train)")
    parser.add_argument("--limit", type=int, default=1000, help="the first N words of --data")
    parser.add_argument("--out", default="runs/int8_error")
    args = parser.parse_args()
    torch.manual_seed(0)
    benchmark = load_benchmark(args.data).first(args.limit)
    rows, ranges = [], []
    for name in shipped_models():
        model = load_model(name)  # in eval mode
        calibration = calibration_images(model)
        ranges += recurrent_ranges(name, model, calibration[:64])
        int8 = quantize_int8(model, calibration)
        error = f"{feature_error(model, int8, benchmark.samples):.3f}"
        reference = real = None
        for variant, recognizer in variants(model, int8).items():
            log_probs = model_log_probs(recognizer, benchmark.samples)
            if reference is None:  # fp32 comes first; frames padded after a narrower image are not counted
                reference, real = log_probs.argmax(-1), log_probs[..., 1:].isfinite().any(-1)
            result = evaluate(log_probs, model.config.charset, benchmark, get_protocol("alphanumeric"))
            changed = (log_probs.argmax(-1) != reference)[real].float().mean()
            rows.append({"model": name, "variant": variant, "word accuracy (%)": result.rows[0]["accuracy (%)"],
                         "frames changed (%)": round(100 * changed.item(), 2),
                         "backbone feature error": error if variant in ("int8 backbone", "int8") else "-"})
    title = f"int8 inference taken apart, {len(benchmark.samples)} held-out rendered words ({args.data})"
    console.print(rich_table(rows, title))
    write_table(rows, Path(args.out), "int8_error", title)
    title = "shared recurrent convolutions: the range of each step (fp32, 64 rendered words)"
    console.print(rich_table(ranges, title))
    write_table(ranges, Path(args.out), "recurrent_ranges", title)


if __name__ == "__main__":
    main()
