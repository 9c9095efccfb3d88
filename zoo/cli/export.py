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
    p.add_argument("--out", help="output path [default: beside a checkpoint MODEL, with the format's suffix; "
                   "runs/export/NAME.SUFFIX for a shipped model, whose folder is the installed package's]")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from zoo.checkpoint import load_model
    from zoo.export import export
    from zoo.report import note

    model = load_model(args.model)
    note(f"wrote {export(model, args.format, args.out or default_out(args.model, args.format))}", label="")
    return 0


def default_out(spec: str, fmt: str):
    """Beside a checkpoint or weights file the user has; runs/export/ (relative to where zoo runs) for a
    shipped model, never the weights folder itself: that is the checkout's registry/ or site-packages."""
    from pathlib import Path

    from zoo.checkpoint import REGISTRY_DIR
    from zoo.export import SUFFIX

    path = Path(spec)
    if path.is_file() and path.resolve().parent != REGISTRY_DIR.resolve():
        return path.with_suffix(SUFFIX[fmt])
    return Path("runs/export") / f"{path.stem}{SUFFIX[fmt]}"
