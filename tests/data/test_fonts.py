"""Font discovery (.ttc collections), the quality filter (zoo.data.synth.font_filter), its cache, and the
font manifest. Test fonts
are made from the PyPI fonts (always installed) with fontTools, so the tests hold with or without
Debian fonts on the machine."""
import copy
import json
import os
import re
from pathlib import Path

import pytest
from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

from zoo.cli import main
from zoo.data.charset import Charset
from zoo.data.synth import font_filter
from zoo.data.synth import fonts as F
from zoo.data.synth import synthesize, usable_fonts
from zoo.data.synth.render import Renderer


@pytest.fixture(autouse=True, scope="module")
def pypi_and_made_fonts_only(tmp_path_factory):
    """Fresh font caches and no system fonts: the tests measure from scratch, quickly, with the same
    fonts on any machine, and leave ~/.cache alone."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        patch.setattr(F, "SYSTEM_FONT_DIRS", ())
        F.discover_fonts.cache_clear()
        yield
    F.discover_fonts.cache_clear()


@pytest.fixture(scope="module")
def pip_fonts():
    return {f.name: f for f in F.discover_fonts(system=False)[0]}


def _renamed(font: TTFont, family: str) -> TTFont:
    """``font`` under a new family name, so that discovery does not take it for the PyPI original."""
    names = font["name"]
    for name_id in (1, 4, 16, 21):
        names.removeNames(nameID=name_id)
    names.setName(family, 1, 3, 1, 0x409)
    return font


@pytest.fixture(scope="module")
def made_fonts(tmp_path_factory, pip_fonts):
    """A folder with a two-face .ttc (Roboto + Lato), a Roboto without q, x, z, and a Roboto whose
    alphanumerics are all drawn as its x."""
    folder = tmp_path_factory.mktemp("fonts")
    collection = TTCollection()
    collection.fonts = [_renamed(TTFont(pip_fonts["Roboto Regular"].path), "Zoo Pair Roboto"),
                        _renamed(TTFont(pip_fonts["Lato Regular"].path), "Zoo Pair Lato")]
    collection.save(folder / "pair.ttc")

    font = _renamed(TTFont(pip_fonts["Roboto Regular"].path), "Zoo Missing")
    options = subset.Options()
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in font_filter.ALNUM62 if c not in "qxz"])
    subsetter.subset(font)
    font.save(folder / "missing.ttf")

    font = _renamed(TTFont(pip_fonts["Roboto Regular"].path), "Zoo Same")
    cmap, glyf, hmtx = font.getBestCmap(), font["glyf"], font["hmtx"]
    x = cmap[ord("x")]
    for char in font_filter.ALNUM62:
        glyf[cmap[ord(char)]] = copy.deepcopy(glyf[x])
        hmtx[cmap[ord(char)]] = hmtx[x]
    font.save(folder / "same.ttf")
    return folder


def _made(made_fonts) -> dict[str, F.FontInfo]:
    return {f.family: f for f in F.discover_fonts((str(made_fonts),), system=False)[0] if f.source == "user"}


def test_every_face_of_a_collection_is_found_and_rendered(made_fonts):
    made = _made(made_fonts)
    pair = [made["Zoo Pair Roboto"], made["Zoo Pair Lato"]]
    assert [(f.path.endswith("pair.ttc"), f.face) for f in pair] == [(True, 0), (True, 1)]
    assert all(f.covers(font_filter.ALNUM62) for f in pair)
    assert [f.open(24).getname()[0] for f in pair] == ["Zoo Pair Roboto", "Zoo Pair Lato"]  # the right face
    renderer = Renderer(Charset.named("alnum36"), pair, seed=0)
    images = [renderer(i)[0] for i in range(6)]
    assert all(image[:2] == b"\xff\xd8" for image in images)  # JPEGs


def test_the_filter_rejects_missing_and_identical_glyphs(made_fonts):
    made = _made(made_fonts)
    missing, same = font_filter.judge_fonts([made["Zoo Missing"], made["Zoo Same"]])
    assert missing.kind == "missing" and missing.reason == "no glyph for qxz"
    assert same.kind == "shared" and same.reason.startswith("letters drawn alike")
    # a font whose only fault is missing letters stays for the words it covers, not for alnum36
    assert "Zoo Missing" not in {f.family for f in usable_fonts(Charset.named("alnum36"), (str(made_fonts),))}


def test_the_filter_accepts_roboto_and_lato_and_tracks_small_caps(pip_fonts):
    text_faces = [f for name, f in pip_fonts.items() if name.split()[0] in ("Roboto", "Lato")]
    assert len(text_faces) >= 20
    verdicts = font_filter.judge_fonts(text_faces)
    assert all(v.accepted and not v.caps_only for v in verdicts), [(f.name, v) for f, v in zip(text_faces, verdicts)
                                                                     if not v.accepted]
    assert all(v.letterlike > 0.7 and v.recognised > 0.9 for v in verdicts)
    amatic = font_filter.judge_fonts([pip_fonts["Amatic SC Regular"]])[0]
    assert amatic.accepted and amatic.caps_only  # its a draws as A: fine when case is folded, not when kept
    assert "Amatic SC" in {f.family for f in usable_fonts(Charset.named("alnum36"))}
    assert "Amatic SC" not in {f.family for f in usable_fonts(Charset.named("alnum62"))}


def test_verdicts_are_cached_until_the_file_changes(made_fonts, monkeypatch):
    font = _made(made_fonts)["Zoo Same"]
    font_filter.judge_fonts([font])

    def measured_again(info):
        raise AssertionError(f"{info.name} measured again")
    monkeypatch.setattr(font_filter, "measure_font", measured_again)
    assert font_filter.judge_fonts([font])[0].kind == "shared"
    os.utime(font.path, ns=(1, 1))  # same size, another mtime: the cached measurement no longer holds
    with pytest.raises(AssertionError, match="measured again"):
        font_filter.judge_fonts([font])


def test_pip_fonts_alone_are_enough(pip_fonts):
    fonts = list(pip_fonts.values())
    accepted = [f for f, v in zip(fonts, font_filter.judge_fonts(fonts)) if v.accepted]
    assert len({f.family for f in accepted}) == len({f.family for f in fonts}) >= 12
    assert F.font_warning(accepted) is None


def test_synth_json_carries_the_font_manifest(tmp_path):
    report = synthesize(50, tmp_path / "m.lmdb", seed=3, workers=1)
    manifest = json.loads((tmp_path / "m.lmdb" / "synth.json").read_text())
    assert manifest["font_filter"] is True and re.fullmatch(r"[0-9a-f]{12}", manifest["font_digest"])
    assert manifest["font_digest"] == report.font_digest and len(manifest["fonts"]) == report.fonts
    assert all(set(row) == {"family", "style", "file", "face", "source", "package", "licence"}
               for row in manifest["fonts"])
    roboto = next(row for row in manifest["fonts"] if row["family"] == "Roboto" and row["style"] == "Regular")
    assert roboto["source"] == "pypi:font-roboto" and roboto["licence"] == "Apache-2.0" and roboto["face"] == 0
    unfiltered = synthesize(50, tmp_path / "u.lmdb", seed=3, workers=1, font_filter=False)
    assert not unfiltered.font_filter
    # the PyPI fonts all pass the filter: the same fonts, so the same digest
    assert (unfiltered.fonts, unfiltered.font_digest) == (report.fonts, report.font_digest)


def test_system_fonts_are_traced_to_their_debian_package():
    fonts = [str(p) for p in sorted(Path("/usr/share/fonts").rglob("*")) if p.suffix.lower() in F.FONT_SUFFIXES]
    if not fonts or not Path("/var/lib/dpkg/info").is_dir():
        pytest.skip("no Debian-packaged fonts on this machine")
    assert F.debian_package(fonts[0])  # e.g. fonts-dejavu-core
    assert F.debian_package("/nowhere/font.ttf") is None


def test_fonts_command_lists_verdicts_and_draws_the_sheet(made_fonts, tmp_path, monkeypatch, capsys):
    assert main(["data", "fonts", "--fonts", str(made_fonts), "--out", str(tmp_path)]) == 0
    table = json.loads((tmp_path / "fonts.json").read_text())
    verdicts = {row["family"]: row["verdict"] for row in table["rows"]}
    assert verdicts["Zoo Same"] == "shared" and verdicts["Zoo Missing"] == "missing"
    assert verdicts["Zoo Pair Lato"] == verdicts["Roboto"] == "accepted"
    assert table["meta"]["files"] == table["meta"]["faces"] - 1  # the .ttc holds two faces
    assert (tmp_path / "fonts.png").stat().st_size > 0 and (tmp_path / "fonts.md").exists()
    assert "rejected: missing 1, shared 1" in capsys.readouterr().out


def test_install_without_apt_get_names_the_manual_fix(monkeypatch, capsys):
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert main(["data", "fonts", "--install"]) == 1  # a failure, one line on stderr
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("error: apt-get not found") and "debian_fonts.txt" in err and "--fonts DIR" in err


def test_the_debian_list_is_shipped_and_well_formed():
    packages = F.debian_font_packages()
    assert 40 <= len(packages) <= 70 and len(set(packages)) == len(packages)
    assert all(re.fullmatch(r"fonts-[a-z0-9.+-]+", p) for p in packages)


def test_a_font_folder_that_does_not_exist_is_an_error_not_skipped(capsys):
    # before: zoo data synth --fonts /nonexistent rendered without it in silence
    assert main(["data", "fonts", "--fonts", "/no/such/fonts"]) == 1
    assert "--fonts /no/such/fonts: no such folder" in capsys.readouterr().err
