"""``zoo ablate``: an ablation study (backbones, or data variants of one model), trained, evaluated and reported."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter, add_overrides, at_least

    p = subparsers.add_parser(
        "ablate", help="train and compare backbones (or data variants) on one recipe, several seeds, and report",
        formatter_class=HelpFormatter,
        description="Train every arm of the STUDY (each model, or each data variant of one model, optionally all "
                    "continuing from the same init_from weights) with the identical recipe for each seed, "
                    "evaluate each run (IC03 None/50/Full by default), measure parameters, GFLOPs and images/s "
                    "in the same run, and write OUT/report.md, report.html, report.json, tables (md/csv/json) "
                    "and PNG figures: accuracy mean +- std over seeds beside the paper's number, paired bootstrap "
                    "significance between arms, accuracy against cost, training curves, the receptive fields of "
                    "the trained models and, for data variants, a panel of each variant's rendered training "
                    "words. The study's final_benchmarks are held back until --final, after the choice. "
                    "Finished runs are not redone; interrupted ones resume. A study of `weights: shipped` trains "
                    "nothing: it compares the zoo's shipped models as they are (the README's main job).",
        epilog="examples:\n  zoo ablate recipes/ablations/shipped.yaml     # the 4 shipped models compared, nothing trained\n"
               "  zoo ablate recipes/ablations/quick.yaml       # pipeline test: 4 backbones x 2 seeds x 30 steps\n"
               "  zoo ablate recipes/ablations/cpu_backbones.yaml --jobs 2        # two one-thread runs at a time\n"
               "  zoo ablate recipes/ablations/cpu_backbones.yaml --set seeds=[0,1]\n"
               "  zoo ablate recipes/ablations/cpu_backbones.yaml --status       # which runs are done, no training\n"
               "  zoo ablate recipes/ablations/renderer.yaml                     # data variants, chosen on dev words\n"
               "  zoo ablate recipes/ablations/renderer.yaml --set chosen=all --final  # then the test benchmarks")
    p.add_argument("study", help="a study YAML, e.g. recipes/ablations/shipped.yaml")
    add_overrides(p, "override a study key (YAML value; dotted keys reach inside, as in zoo train), "
                  "e.g. --set seeds=[0,1]")
    p.add_argument("--jobs", type=at_least(1), default=1, metavar="N",
                   help="train N runs at once as child processes, each with cores/N threads (faster in total "
                        "on a small CPU; each child logs to OUT/runs/<arm>-s<seed>.log)")
    p.add_argument("--only", metavar="ARM:SEED", help="train and evaluate this one run, write no report "
                   "(what each --jobs child does); ARM is a model, or a variant in a variants study")
    p.add_argument("--status", action="store_true", help="list every run (finished with its accuracy, "
                   "training at step N, or not started; checkpoint on disk or not) and exit")
    p.add_argument("--final", action="store_true", help="once every run is finished and the chosen arm is "
                   "recorded (`chosen:` or --set chosen=NAME), evaluate every run on the study's held-back "
                   "final_benchmarks (the test splits) and add them to the report")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from zoo.report import console, rich_table
    from zoo.study import load_study, run_one, run_study, study_status

    study = load_study(args.study, args.overrides)
    if args.status:
        rows = study_status(study)
        finished = sum(r["state"] == "finished" for r in rows)
        console.print(rich_table(rows, f"{study.name}: {finished} of {len(rows)} runs finished ({study.out})"))
        return 0
    if args.only:
        label, _, seed = args.only.rpartition(":")
        labels = [a.label for a in study.arms()]
        if label not in labels or not seed.lstrip("-").isdigit() or int(seed) not in study.seeds:
            raise ValueError(f"--only {args.only!r}: expected ARM:SEED with ARM one of {labels} "
                             f"and SEED one of {study.seeds}")
        run_one(study, label, int(seed))
        return 0
    run_study(study, source=args.study, jobs=args.jobs, final=args.final)
    return 0
