"""``zoo export``: a checkpoint or shipped model to safetensors or ONNX."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter

    p = subparsers.add_parser(
        "export", help="export a model to safetensors (fp16) or ONNX", formatter_class=HelpFormatter,
        description="Export MODEL (a checkpoint .pt, weights .safetensors, or the name of a shipped model). "
                    "ONNX (torch.onnx's dynamo exporter) takes images (batch, channels, 32, width) with dynamic "
                    "batch and width and returns logits (batch, frames, classes); the model's name, charset, "
                    "preprocessing and spec are in the file's metadata_props. The file is run in ONNX Runtime "
                    "against PyTorch before it is written, and refused if the logits differ by more than 1e-4.",
        epilog="examples:\n  zoo export runs/cpu/grcnn/best.pt --format onnx\n"
               "  zoo export runs/cpu/grcnn/best.pt --format safetensors --out registry/grcnn.safetensors")
    p.add_argument("model", help="checkpoint path, .safetensors path, or shipped model name")
    p.add_argument("--format", type=export_format, default="onnx", help="safetensors | onnx")
    p.add_argument("--out", help="output path [default: beside a checkpoint MODEL, with the format's suffix; "
                   "runs/export/NAME.SUFFIX for a shipped model, whose folder is the installed package's]")
    p.set_defaults(func=run)


def export_format(text: str) -> str:
    """``--format``: a usage error that says what to use instead of a removed format."""
    from zoo.export import check_format

    try:
        return check_format(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from zoo.export import CHECK_BATCH, CHECK_WIDTH, export, export_onnx
    from zoo.factory import load_model
    from zoo.report import note

    out = args.out or default_out(args.model, args.format)
    # never over the model being exported (a checkpoint's training state); the export refuses a user's file
    inputs = [args.model] if Path(args.model).exists() else []
    model = load_model(args.model)
    if args.format != "onnx":
        note(f"wrote {export(model, args.format, out, inputs)}", label="")
        return 0
    difference = export_onnx(model, out, inputs)
    note(f"wrote {out} (ONNX Runtime against PyTorch at batch {CHECK_BATCH}, width {CHECK_WIDTH}: max abs logit "
         f"diff {difference:.1e})", label="")
    return 0


def default_out(spec: str, fmt: str):
    """Beside a checkpoint or weights file the user has; runs/export/ (relative to where zoo runs) for a
    shipped model, never the weights folder itself: that is the checkout's registry/ or site-packages."""
    from pathlib import Path

    from zoo.checkpoint import REGISTRY_DIR
    from zoo.export import SUFFIX

    path = Path(spec)
    if not path.is_file() or path.resolve().parent == REGISTRY_DIR.resolve():
        return Path("runs/export") / f"{path.stem}{SUFFIX[fmt]}"
    if path.suffix == SUFFIX[fmt]:  # weights exported to their own format: beside them is over them
        raise ValueError(f"{spec} is a {fmt} file already, so the default output (MODEL with the suffix "
                         f"{SUFFIX[fmt]}) would be {spec} itself: give --out NEW{SUFFIX[fmt]} to write a copy, "
                         f"or another --format")
    return path.with_suffix(SUFFIX[fmt])
