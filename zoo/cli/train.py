"""``zoo train``: train a recipe (one process, or under torchrun)."""
from __future__ import annotations

import argparse

EXAMPLES = """examples:
  zoo train recipes/cpu/grcnn.yaml
  zoo train recipes/cpu/grcnn.yaml --set train.iterations=500 --set out=runs/try
  zoo train recipes/cpu/grcnn.yaml --resume                 # continue exactly where it stopped
  zoo train recipes/cpu/grcnn.yaml --resume --set train.iterations=8000   # extend a finished run
  zoo train recipes/cpu/crnn_vgg.yaml --init-from runs/x/best.pt --set data.charset=alnum62
  zoo train recipes/cpu/grcnn.yaml --init-from grcnn --set data.train=my.lmdb   # fine-tune the shipped GRCNN
  torchrun --nproc_per_node 2 -m zoo train recipes/papers/grcnn.yaml   # DDP (docs/training.md)"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter, add_overrides

    p = subparsers.add_parser(
        "train", help="train a model from a YAML recipe", formatter_class=HelpFormatter, epilog=EXAMPLES,
        description="Train the recipe's model with CTC. The resolved recipe is saved beside the checkpoints "
                    "(OUT/recipe.yaml); OUT/last.pt and OUT/best.pt hold the full state; OUT/log.jsonl and "
                    "OUT/curves.png record the run. Unknown keys, wrong types, values out of range and missing "
                    "data paths are errors before any work starts; so is an OUT that already holds a run "
                    "(continue it with --resume) or that another `zoo train` is writing.")
    p.add_argument("recipe", help="a YAML recipe, e.g. recipes/cpu/grcnn.yaml")
    add_overrides(p, "override a recipe value (YAML syntax), repeatable: --set train.lr=0.5")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue OUT/last.pt exactly (same data order)")
    start.add_argument("--init-from", metavar="CKPT", help="start from these weights only (new optimiser, step 0): "
                       "a checkpoint, a .safetensors file or a shipped model's name (e.g. grcnn; grcnn@COMMIT: the "
                       "weights that commit shipped)")
    p.add_argument("--allow-recipe-change", action="store_true",
                   help="with --resume: continue even though the recipe differs from the checkpoint's in more "
                        "than train.iterations and the log/val/checkpoint frequencies (the changes are printed); "
                        "without it that is refused, as the rest would not continue the same run")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from zoo.train.recipe import load_recipe
    from zoo.train.trainer import train

    recipe = load_recipe(args.recipe, args.overrides)
    train(recipe, resume=args.resume, init_from=args.init_from, allow_recipe_change=args.allow_recipe_change)
    return 0
