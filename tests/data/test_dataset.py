import pytest
import torch
from torch.utils.data import DataLoader

from zoo.data.charset import Charset
from zoo.data.dataset import CtcCollate, LmdbDataset, frame_table
from zoo.data.lmdb import LmdbWriter
from zoo.data.transforms import Preprocess
from zoo.factory import create_model, get_config


def test_label_policy_drop_counts_every_reason(broken_lmdb):
    cs = Charset.named("alnum36")
    ds = LmdbDataset(broken_lmdb, Preprocess(), cs, frames=26)
    assert ds.label_report.as_dict() == {"total": 8, "kept": 5, "empty": 1, "unknown_chars": 1, "too_long": 1}
    assert ds.label_report.summary() == "5 of 8 labels kept; rejected: 1 empty, 1 unknown chars, 1 too long"
    assert ds.labels == ["hello", "truncated", "street", "42", "book"]  # case folded, never stripped
    assert ds.label_report.examples["unknown_chars"] == [(4, "café!")]


def test_label_policy_error_names_the_problems(broken_lmdb):
    with pytest.raises(ValueError, match=r"5 of 8 labels kept.*unknown_chars: \[\(4, 'café!'\)\]"):
        LmdbDataset(broken_lmdb, Preprocess(), Charset.named("alnum36"), frames=26, label_policy="error")


def test_corrupt_images_skipped_and_counted_through_workers(broken_lmdb):
    cs = Charset.named("alnum36")
    ds = LmdbDataset(broken_lmdb, Preprocess(), cs, frames=26)
    loader = DataLoader(ds, batch_size=3, num_workers=2, collate_fn=CtcCollate(cs))
    batches = list(loader)
    assert sum(b.skipped["corrupt_image"] for b in batches) == 1
    assert [label for b in batches for label in b.labels] == ["hello", "street", "42", "book"]
    first = batches[0]
    assert first.images.shape == (2, 1, 32, 100)
    assert first.target_lengths.tolist() == [5, 6]
    assert cs.decode(first.targets[:5].tolist()) == "hello"
    # the batch is what CTCLoss takes
    logits = torch.randn(26, 2, cs.num_classes).log_softmax(-1)
    loss = torch.nn.CTCLoss()(logits, first.targets, torch.full((2,), 26), first.target_lengths)
    assert torch.isfinite(loss)


def test_keep_ratio_frames_per_width(broken_lmdb):
    model = create_model("crnn_vgg")
    pre = Preprocess.from_config(get_config("crnn_vgg"), width_policy="keep_ratio", max_width=120)
    table = frame_table(model, pre)
    assert table[100] == model.num_frames(100) == 26 and len(table) == 121
    assert max(table) == 31
    cs = Charset.named("alnum36")
    assert cs.label_problem("abc" * 10, 31) is None
    assert cs.label_problem("abc" * 10, 26) == "too_long"
    assert cs.label_problem("aab" * 10, 31) == "too_long"  # 40 frames with the blanks


def test_keep_ratio_image_too_narrow_for_its_label_is_skipped_and_counted(tmp_path, word_image):
    label = "abcdefghijklmnopqrstuvwxyz0123"  # 30 frames: more than 100 px give (26), fewer than 240 px
    with LmdbWriter(tmp_path / "k.lmdb") as writer:
        writer.add(word_image("narrow", width=100), label)
        writer.add(word_image("wide", width=240), label)
    model = create_model("crnn_vgg")
    pre = Preprocess(width_policy="keep_ratio", max_width=400)
    cs = Charset.named("alnum36")
    ds = LmdbDataset(tmp_path / "k.lmdb", pre, cs, frames=frame_table(model, pre))
    batch = CtcCollate(cs)([ds[0], ds[1]])
    assert batch.skipped == {"too_narrow": 1}
    assert batch.images.shape == (1, 1, 32, 240) and batch.labels == [label]


def test_validation_names_the_held_out_samples_it_leaves_out_and_logs_the_count(broken_lmdb):
    # before: the truncated sample 2 vanished from validation ("of 5 held-out rendered words" for the 6 kept
    # labels, nothing saying which or why), and a batch left with no image at all crashed it (None.to)
    from zoo.train.validation import validate, validation_summary

    class Blank(torch.nn.Module):
        def forward(self, images):  # every frame blank: reads "" for every word
            out = torch.zeros(len(images), 4, 37)
            out[..., 0] = 1
            return out

    cs = Charset.named("alnum36")
    loader = DataLoader(LmdbDataset(broken_lmdb, Preprocess(), cs), batch_size=1, collate_fn=CtcCollate(cs))
    result = validate(Blank(), loader, [], cs.chars, torch.device("cpu"))
    assert result["val_samples"] == 5 and result["val_skipped"] == {"corrupt_image": 1}
    assert result["val_skipped_samples"] == [2]
    summary = validation_summary(result)
    assert "0.00% of 5 held-out rendered words (1 left out: 1 corrupt image; sample(s) 2; e.g. sample 2 of " in summary
    assert f"{broken_lmdb}: not a readable image (" in summary
