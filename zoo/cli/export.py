"""``zoo export``: a checkpoint or shipped model to safetensors, ONNX or TorchScript."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter
    from zoo.export import FORMATS

    p = subparsers.add_parser(
        "export", help="export a model to safetensors (fp16), ONNX or TorchScript", formatter_class=HelpFormatter,
        description="Export MODEL (a checkpoint .pt, weights .safetensors, or the name of a shipped model). "
                    "ONNX and TorchScript take images (batch, channels, 32, width) with dynamic batch and width "
                    "and return logits (batch, frames, classes); the model's config (charset, preprocessing) is "
                    "written beside them as OUT.json.",
        epilog="examples:\n  zoo export runs/cpu/grcnn/best.pt --format onnx\n"
               "  zoo export runs/cpu/grcnn/best.pt --format safetensors --out registry/grcnn.safetensors")
    p.add_argument("model", help="checkpoint path, .safetensors path, or shipped model name")
    p.add_argument("--format", choices=FORMATS, default="onnx")
    p.add_argument("--out", help="output path (default: beside MODEL with the format's suffix)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from zoo.checkpoint import load_model
    from zoo.export import SUFFIX, export
    from zoo.report import console

    model = load_model(args.model)
    out = Path(args.out) if args.out else Path(args.model).with_suffix(SUFFIX[args.format])
    console.print(f"wrote {export(model, args.format, out)}")
    return 0
