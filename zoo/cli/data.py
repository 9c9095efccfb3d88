"""``zoo data import|verify|show|synth|fonts``: build, check and look at LMDB data sets, and the fonts
the renderer draws with."""
from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """examples:
  zoo data synth --n 100000 --out runs/data/synth.lmdb --seed 0 --workers 2
  zoo data import ../shared/data/ic03 --out runs/data/ic03.lmdb --lexicon ../shared/data/ic03/lexicon_50.txt
  zoo data import train_list.txt --out train.lmdb                      ('file word' lines)
  zoo data import data_train.txt --charset char_std_5990.txt --out zh.lmdb   (index labels)
  zoo data verify runs/data/ic03.lmdb --charset alnum36 --max-width 100
  zoo data show runs/data/synth.lmdb -n 32 --out runs/data/synth.png
  zoo data fonts --install                      (the curated Debian font packages, then the list)
  zoo data fonts --out runs/fonts               (fonts, filter verdicts, contact sheet fonts.png)"""


def share(text: str) -> float:
    """An argparse type: a share of the samples, 0 to 1 (``--vertical 2`` or ``nan`` rendered as if valid)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:  # NaN fails both comparisons
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter, at_least

    p = subparsers.add_parser(
        "data", help="import, verify, show and synthesise LMDB data sets", formatter_class=HelpFormatter,
        description="Data sets in the public text-recognition LMDB layout (num-samples, image-%09d, "
                    "label-%09d, optional lexicon-%09d; 1-based), as MJSynth/SynthText and the benchmark "
                    "LMDBs use it.", epilog=EPILOG)
    verbs = p.add_subparsers(title="actions", metavar="ACTION", required=True)

    imp = verbs.add_parser("import", formatter_class=HelpFormatter, help="labelled images -> LMDB",
                           description="Write labelled images to an LMDB (atomically: an interrupted import "
                           "leaves nothing at --out). SRC is a folder with gt.txt ('file<TAB>word'), a "
                           "'file word' list, or with --charset an index-label list ('file i j k', indices "
                           "into the charset file).", epilog=EPILOG)
    imp.add_argument("src", help="folder with gt.txt, or a list file")
    imp.add_argument("--out", required=True, metavar="X.lmdb")
    imp.add_argument("--format", default="auto", choices=("auto", "gt", "list", "index"))
    imp.add_argument("--charset", metavar="FILE", help="charset file of an index-label list (one char per line)")
    imp.add_argument("--index-base", type=int, default=0, choices=(0, 1), help="index of the charset file's first line")
    imp.add_argument("--lexicon", metavar="FILE", help="line k: comma-separated lexicon of sample k (e.g. lexicon_50.txt)")
    imp.set_defaults(func=run_import)

    ver = verbs.add_parser("verify", formatter_class=HelpFormatter, help="scan an LMDB and count problems",
                           description="Decode every image and check every label; count undecodable images, "
                           "empty labels, labels with characters outside --charset, and labels needing more "
                           "CTC frames than --model emits at --max-width (a repeated character needs a blank "
                           "between); and the layout itself: num-samples against the samples stored, missing "
                           "keys, labels and lexicons that are not UTF-8. Exits 0 when the database follows the "
                           "layout, whatever the counts; 1 when it does not (what eval, train and show refuse), "
                           "each break named on stderr after the table.", epilog=EPILOG)
    ver.add_argument("lmdb")
    ver.add_argument("--charset", help="alnum36, alnum62, printable94 or a charset file")
    ver.add_argument("--max-width", type=at_least(1), metavar="W", help="widest input the model sees (px)")
    ver.add_argument("--model", default="crnn_vgg", help="registered model whose frame count applies")
    ver.add_argument("--out", metavar="DIR", help="also write verify.md/csv/json here")
    ver.set_defaults(func=run_verify)

    show = verbs.add_parser("show", formatter_class=HelpFormatter, help="PNG grid of samples with labels",
                            description="Write a PNG contact sheet of samples with their index and label.",
                            epilog=EPILOG)
    show.add_argument("lmdb")
    show.add_argument("-n", type=at_least(1), default=32, help="number of samples")
    show.add_argument("--seed", type=int, help="draw samples at random with this seed (default: the first n)")
    show.add_argument("--out", metavar="PNG", help="default: <lmdb>-samples.png beside the database")
    show.set_defaults(func=run_show)
    _register_synth(verbs)
    _register_fonts(verbs)


def _register_synth(verbs: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter, add_overrides, at_least

    syn = verbs.add_parser("synth", formatter_class=HelpFormatter, help="render a synthetic word LMDB",
                           description="Render MJSynth-like word images (English words, digit strings, random "
                           "alphanumerics; many fonts; procedural backgrounds; distortions). Sample i depends "
                           "only on (--seed, i): the output is identical for any --workers.", epilog=EPILOG)
    syn.add_argument("--n", type=at_least(1), required=True, help="number of samples")
    syn.add_argument("--out", required=True, metavar="X.lmdb")
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("--workers", type=at_least(0), default=2)
    syn.add_argument("--charset", default="alnum36", help="alnum36, alnum62, printable94 or a charset file")
    syn.add_argument("--max-frames", type=at_least(1), default=26, help="longest label in CTC frames (26: 100 px CRNN)")
    syn.add_argument("--vertical", type=share, default=0.0, metavar="P",
                     help="share of vertical text (for charsets written top to bottom)")
    syn.add_argument("--fonts", nargs="*", default=[], metavar="DIR", help="extra font directories")
    syn.add_argument("--backgrounds", metavar="DIR", help="images to cut background crops from")
    syn.add_argument("--no-font-filter", dest="font_filter", action="store_false",
                     help="draw in every font covering the words, pictorial ones too (an ablation)")
    syn.add_argument("--preset", default="baseline", choices=("baseline", "scene"),
                     help="renderer settings: baseline (MJSynth-like cards, dictionary words) or scene (street-"
                     "sign words; loose crops with neighbouring letters, photographs, uneven light, low "
                     "resolution, motion blur; see docs/data.md)")
    add_overrides(syn, "a renderer setting over the preset (a RenderConfig field, YAML value; repeatable), e.g. "
                  "p_photo=0.3, margin=[0,0.2], words=signs or words.upper=0.5 (docs/data.md lists them)")
    syn.set_defaults(func=run_synth)


def _register_fonts(verbs: argparse._SubParsersAction) -> None:
    from zoo.cli import HelpFormatter

    fonts = verbs.add_parser("fonts", formatter_class=HelpFormatter, help="install and list the renderer's fonts",
                             description="List every font the renderer finds (PyPI font packages, system font "
                             "directories, --fonts DIR) with the quality filter's verdict and reason. --install "
                             "first installs the curated Debian packages of zoo/data/synth/debian_fonts.txt "
                             "(apt-get, as root or through sudo).", epilog=EPILOG)
    fonts.add_argument("--install", action="store_true", help="apt-get install the curated Debian font packages")
    fonts.add_argument("--fonts", nargs="*", default=[], metavar="DIR", help="extra font directories")
    fonts.add_argument("--out", metavar="DIR", help="also write fonts.md/csv/json and the contact sheet fonts.png")
    fonts.set_defaults(func=run_fonts)


def run_import(args: argparse.Namespace) -> int:
    from zoo.data.importers import import_dataset
    from zoo.report import console, progress

    with progress() as bar:
        count = import_dataset(args.src, args.out, args.format, args.charset, args.index_base, args.lexicon, bar)
    console.print(f"wrote {count} samples to {args.out}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from zoo.data.charset import Charset
    from zoo.data.dataset import verify_lmdb
    from zoo.data.lmdb import SchemaError
    from zoo.factory import create_model
    from zoo.report import console, progress, refuse_tables, rich_table, write_table

    if args.out:  # refused now, not after the scan: never into the data set it checks, nor over a user's table
        refuse_tables(args.out, ["verify"], inputs=[args.lmdb])
    charset = Charset.resolve(args.charset) if args.charset else None
    frames = create_model(args.model).num_frames(args.max_width) if args.max_width else None
    if frames is not None and charset is None:
        raise ValueError("--max-width needs --charset (label length is counted after case folding)")
    with progress(transient=True) as bar:
        report = verify_lmdb(args.lmdb, charset, frames, bar)
    title = (f"{args.lmdb}: charset {args.charset or '-'}"
             + (f", {frames} frames ({args.model} at {args.max_width} px)" if frames else ""))
    console.print(rich_table(report.rows(), title))
    for problem, examples in report.examples.items():
        console.print(f"  {problem.replace('_', ' ')}, e.g. " + ", ".join(f"#{i} {label!r}" for i, label in examples))
    if args.out:
        write_table(report.rows(), args.out, "verify", title, meta={"examples": report.examples, "layout": report.layout})
    if report.layout:  # after the table and its files: they say what else is wrong
        raise SchemaError(f"{args.lmdb} does not follow the layout: {'; '.join(report.layout)}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from zoo.data.preview import write_grid
    from zoo.report import note

    out = args.out or str(Path(args.lmdb).resolve().with_name(Path(args.lmdb).resolve().stem + "-samples.png"))
    path, shown = write_grid(args.lmdb, out, args.n, args.seed)
    if len(shown) < args.n:
        note(f"{args.lmdb} holds {len(shown)} samples, fewer than -n {args.n}: all of them are shown")
    note(f"wrote {path}", label="")
    return 0


def run_synth(args: argparse.Namespace) -> int:
    from zoo.data.charset import Charset
    from zoo.data.synth import synthesize
    from zoo.data.synth.render import render_config
    from zoo.report import console, progress, rich_table
    from zoo.train.recipe import apply_overrides

    settings = {"max_frames": args.max_frames, "p_vertical": args.vertical}
    apply_overrides(settings, args.overrides, example="p_photo=0.3")
    config = render_config(args.preset, settings)
    with progress() as bar:
        report = synthesize(args.n, args.out, args.seed, args.workers, Charset.resolve(args.charset), config,
                            tuple(args.fonts), args.backgrounds, bar, args.font_filter, args.preset)
    if report.warning:
        console.print(f"[bold yellow]warning:[/] {report.warning}")
    if report.unreadable_fonts:
        console.print(f"[yellow]left out {len(report.unreadable_fonts)} unreadable font files[/] "
                      f"(listed in {report.path}/synth.json), e.g. {report.unreadable_fonts[0]}")
    console.print(rich_table([{"samples": report.samples, "seed": report.seed, "preset": report.preset,
                               "workers": report.workers,
                               "font styles": report.fonts, "families": report.font_families,
                               "font filter": "on" if report.font_filter else "off", "font set": report.font_digest,
                               "seconds": report.seconds, "img/s": report.rate}], f"rendered {report.path}"))
    return 0


def run_fonts(args: argparse.Namespace) -> int:
    import time

    from zoo.data.synth import fonts as F
    from zoo.data.synth.font_filter import font_sheet, judge_fonts
    from zoo.outputs import save_png
    from zoo.report import console, progress, rich_table, write_table

    if args.install:
        _install_fonts()
    start = time.perf_counter()
    fonts, unreadable = F.discover_fonts(tuple(args.fonts))
    found = time.perf_counter()
    with progress(transient=True) as bar:
        verdicts = judge_fonts(fonts, bar)
    timing = {"discovery s": round(found - start, 2), "filter s": round(time.perf_counter() - found, 2)}
    rows = [{**row, "verdict": v.kind, "letterlike": v.letterlike, "recognised": v.recognised,
             "caps_only": v.caps_only, "reason": v.reason}
            for row, v in zip(F.font_manifest(fonts), verdicts)]
    summary, rejected = _font_summary(tuple(args.fonts), fonts, verdicts, unreadable)
    accepted_set = F.font_set_digest([f for f, v in zip(fonts, verdicts) if v.accepted])
    console.print(rich_table(rows, "fonts and the filter's verdicts",
                             ["family", "style", "face", "source", "package", "licence", "verdict", "reason"]))
    console.print(rich_table([{**summary, **timing}], f"font set {accepted_set} (the accepted fonts)"))
    console.print("rejected: " + (", ".join(f"{kind} {count}" for kind, count in rejected.items()) or "none"))
    if args.out:
        write_table(rows, args.out, "fonts", "fonts and the filter's verdicts",
                    meta={**summary, **timing, "rejected": rejected, "accepted_font_set": accepted_set})
        sheet = Path(args.out) / "fonts.png"
        save_png(font_sheet(fonts, verdicts), sheet)
        console.print(f"wrote {Path(args.out) / 'fonts.md'} (.csv, .json) and {sheet}")
    return 0


def _font_summary(font_dirs: tuple[str, ...], fonts, verdicts, unreadable) -> tuple[dict, dict]:
    """Counts of files, faces, styles and families before and after the filter; rejections by kind."""
    from collections import Counter

    from zoo.data.synth import fonts as F

    files = F.font_files(font_dirs)
    accepted = [f for f, v in zip(fonts, verdicts) if v.accepted]
    summary = {"files": len(files), "faces": len(F.read_faces(files)[0]), "unreadable": len(unreadable),
               "styles": len(fonts), "families": len({f.family for f in fonts}),
               "accepted styles": len(accepted), "accepted families": len({f.family for f in accepted})}
    return summary, dict(Counter(v.kind for v in verdicts if not v.accepted).most_common())


def _install_fonts() -> None:
    """apt-get update + install of the curated packages; an error naming the first that fails."""
    import os
    import shlex
    import shutil
    import subprocess

    from zoo.data.synth.fonts import DEBIAN_FONTS, debian_font_packages, discover_fonts
    from zoo.report import note

    if shutil.which("apt-get") is None:
        raise FileNotFoundError(f"apt-get not found (not Debian or Ubuntu). Install the packages listed in "
                                f"{DEBIAN_FONTS} with this system's package manager, or copy .ttf/.otf/.ttc files "
                                f"into ~/.local/share/fonts or a folder you pass as --fonts DIR.")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if sudo and shutil.which("sudo") is None:
        raise PermissionError("installing packages needs root, and sudo is not installed: run "
                              "`zoo data fonts --install` as root")
    for command in ([*sudo, "apt-get", "update"],
                    [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *debian_font_packages()]):
        note(f"$ {shlex.join(command)}", label="")
        if code := subprocess.call(command):
            raise RuntimeError(f"`{shlex.join(command)}` exited with {code}; nothing of the font set was changed "
                               f"by the zoo (apt's own output above says why)")
    discover_fonts.cache_clear()  # the new fonts
