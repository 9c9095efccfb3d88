import numpy as np
from PIL import Image

from zoo.data.preview import CELL_WIDTH, LABEL_HEIGHT, ROW_HEIGHT, labelled_grid


def test_a_long_caption_stays_inside_its_cell():
    # before: "ic13: RESTAURANTS -> resitaurants" ran on into the next cell's caption
    word = Image.new("L", (100, 32), 255)
    long_caption = "ic13_1015: INTERNATIONALISATION -> internationalisation"
    sheet = labelled_grid([(word, long_caption), (word, "")], columns=2)
    caption_band = np.asarray(sheet.convert("L"))[ROW_HEIGHT + 2:ROW_HEIGHT + 4 + LABEL_HEIGHT]
    assert caption_band[:, 4:CELL_WIDTH // 2].min() < 128  # the caption is drawn
    assert caption_band[:, CELL_WIDTH - 4:].min() == 255  # and nothing of it past its cell
    short = np.asarray(labelled_grid([(word, "ab -> cd")], columns=1).convert("L"))
    ink = np.nonzero(short[ROW_HEIGHT + 2:ROW_HEIGHT + 4 + LABEL_HEIGHT].min(axis=0) < 128)[0]
    assert ink.max() - ink.min() > 40  # a short caption keeps the full 15 px font (8 characters ~ 72 px)
