"""``zoo viz rf``: receptive-field visualisation report for any registered or trained model."""
from __future__ import annotations

import argparse

RF_EPILOG = """examples:
  zoo viz rf --images ../shared/data/ic03 --limit 4 --out runs/viz
        every shipped model (trained weights, registry/) on the first 4 images
  zoo viz rf --untrained --images ../shared/data/ic03 --limit 4 --out runs/viz-untrained
        every registered model, untrained (seeded): what the architecture alone lets a frame see
  zoo viz rf --models crnn_vgg,rcnn,densenet,grcnn --images a.jpg b.png --out runs/viz --method occlusion
  zoo viz rf --checkpoints runs/grcnn/best.pt --images words/ --out runs/viz-trained --frames 8

writes OUT/report.html (open it in a browser), OUT/report.json (every number), OUT/figures/*.png
and OUT/rf_summary.{md,csv,json}, OUT/rf_growth.{md,csv,json}. Method: docs/visualisation.md."""


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _ints(text: str) -> list[int]:
    try:
        return [int(part) for part in _names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter, at_least

    viz = subparsers.add_parser("viz", help="visualisation reports (receptive fields, saliency, gates)",
                                formatter_class=HelpFormatter,
                                description="Visualisation reports. `zoo viz rf --help` for the receptive-field report.")
    verbs = viz.add_subparsers(title="reports", metavar="REPORT", required=True)
    p = verbs.add_parser(
        "rf", help="saliency, per-frame receptive fields, CTC alignment, GRCNN gates",
        formatter_class=HelpFormatter, epilog=RF_EPILOG,
        description="For each model and image: a saliency map of the transcription (paper-style grid), every "
                    "output frame's effective receptive field (its 50%/90% mass extent and centre against the "
                    "frame's nominal position), the CTC alignment over the image, GRCNN's gates per layer and "
                    "iteration; per model the theoretical receptive field per layer; for RCNN/GRCNN the effective "
                    "field against the iteration count T. A model name means its shipped weights, as in "
                    "`zoo eval` and `zoo predict`; --untrained builds the names with seeded random weights "
                    "instead, and the report says so.")
    p.add_argument("--models", type=_names, default=None, metavar="A,B,...",
                   help="registered model names: their shipped weights [default: every shipped model, or with "
                   "--untrained every registered one; none when --checkpoints is given]")
    p.add_argument("--untrained", action="store_true",
                   help="build the --models names with random weights (seeded by --seed), not the shipped ones")
    p.add_argument("--checkpoints", nargs="+", default=[], metavar="PATH",
                   help="trained models (.pt checkpoints or .safetensors weights), added to --models")
    p.add_argument("--images", nargs="+", required=True, metavar="DIR_OR_FILE",
                   help="image files and/or directories of images (a directory's gt.txt, if any, labels them)")
    p.add_argument("--limit", type=at_least(0), default=6, metavar="N", help="use at most N images (0: all)")
    p.add_argument("--out", required=True, metavar="DIR", help="report directory")
    p.add_argument("--method", choices=["gradient", "occlusion"], default="gradient",
                   help="saliency method of the image grid (per-frame fields are always gradients)")
    p.add_argument("--frames", type=int, default=0, metavar="N",
                   help="study N evenly spaced frames per image (0: every frame)")
    p.add_argument("--iterations", type=_ints, default="0,1,2,3,4,5", metavar="T,T,...",
                   help="iteration counts for the effective-field-against-T study of recurrent models (empty: skip)")
    p.add_argument("--seed", type=int, default=0, help="seed of the --untrained models' initialisation")
    p.set_defaults(func=run_rf)


def run_rf(args: argparse.Namespace) -> int:
    from zoo.factory import list_models, shipped_models
    from zoo.viz import build_report
    from zoo.viz.inputs import find_images, load_subjects

    if args.limit < 0 or args.frames < 0:
        raise ValueError("--limit and --frames must be >= 0 (0 means all)")
    every = list_models() if args.untrained else shipped_models()
    names = args.models if args.models is not None else ([] if args.checkpoints else every)
    subjects = load_subjects(names, args.checkpoints, args.seed, untrained_names=args.untrained)
    images = find_images(args.images, args.limit or None)
    build_report(subjects, images, args.out, args.method, args.iterations, args.frames or None, args.seed)
    return 0
