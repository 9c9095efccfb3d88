"""The documented Chinese path end to end (docs/data.md): a charset file of CJK characters, words
rendered horizontally and vertically with an installed CJK collection (.ttc), a few training steps,
evaluation with the exact protocol, and predict. Runs where a CJK font is installed; elsewhere it
skips and names the packages to install."""
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from zoo.cli import main
from zoo.data.lmdb import LmdbReader

REPO = Path(__file__).resolve().parent.parent
CHARS = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年"


def cjk_font() -> str | None:
    try:
        found = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return next((line.split(":")[0] for line in found.splitlines() if line.strip()), None)


pytestmark = pytest.mark.skipif(cjk_font() is None, reason="no CJK font installed: apt-get install fonts-noto-cjk "
                                                            "fonts-wqy-zenhei (or fonts-wqy-microhei)")


def synth(out, n, vertical, charset):
    assert main(["data", "synth", "--n", str(n), "--seed", "4", "--workers", "1", "--charset", str(charset),
                 "--vertical", str(vertical), "--out", str(out)]) == 0
    return LmdbReader(str(out))


def test_chinese_words_render_train_evaluate_and_read(tmp_path, capsys):
    charset = tmp_path / "zh.txt"
    charset.write_text("\n".join(CHARS) + "\n", encoding="utf-8")
    mixed = synth(tmp_path / "zh.lmdb", 48, 0.5, charset)
    upright = synth(tmp_path / "zh-h.lmdb", 8, 0.0, charset)
    standing = synth(tmp_path / "zh-v.lmdb", 8, 1.0, charset)
    labels = [mixed.label(i) for i in range(1, len(mixed) + 1)]
    assert len(labels) == 48 and all(labels) and set("".join(labels)) <= set(CHARS)  # every word in the charset
    assert len(set("".join(labels))) >= 15  # many characters drawn, not one repeated
    fonts = {f["family"] for f in json.loads((tmp_path / "zh.lmdb" / "synth.json").read_text())["fonts"]}
    assert fonts, "the manifest names the CJK faces that drew the words"
    for reader in (upright, standing):
        for i in range(1, 9):  # glyphs on a background, not a blank card
            assert np.asarray(reader.image(i).convert("L"), float).std() > 10
    # the same seed draws the same words and fonts: the images differ only because the columns are vertical
    assert [upright.label(i) for i in range(1, 9)] == [standing.label(i) for i in range(1, 9)]
    assert not any(np.array_equal(np.asarray(upright.image(i)), np.asarray(standing.image(i))) for i in range(1, 9))

    recipe = tmp_path / "zh.yaml"
    recipe.write_text(f"""
_base_: {REPO / 'recipes/papers/crnn_vgg.yaml'}
model: {{name: crnn_vgg, options: {{hidden_size: 16}}}}
data: {{train: {tmp_path / 'zh.lmdb'}, val: {tmp_path / 'zh-h.lmdb'}, val_synth: null, charset: {charset},
        workers: 0, real_val: []}}
train: {{iterations: 3, batch_size: 8, log_every: 1, val_every: 3, checkpoint_every: 3, select_on: rendered}}
out: {tmp_path / 'run'}
""")
    assert main(["train", str(recipe)]) == 0
    checkpoint = tmp_path / "run" / "best.pt"
    capsys.readouterr()
    assert main(["eval", str(checkpoint), "--benchmark", str(tmp_path / "zh-v.lmdb"), "--protocol", "exact",
                 "--lexicon", "none", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["rows"]
    assert 0 <= row["zh-v.lmdb None"] <= 100 and row["total None (8 images)"] == row["zh-v.lmdb None"]
    image = tmp_path / "word.png"
    standing.image(1).save(image)
    assert main(["predict", str(image), "--model", str(checkpoint), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["rows"]
    assert set(row["text"]) <= set(CHARS)  # three steps read nothing yet; what it writes is the charset's
