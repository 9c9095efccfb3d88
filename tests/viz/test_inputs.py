"""What a report runs on: models (checkpoints or seeded untrained) and image files."""
import pytest
import torch
from PIL import Image

from zoo import create_model
from zoo.checkpoint import save_checkpoint
from zoo.viz.inputs import find_images, load_subjects


def test_checkpoints_and_untrained_models_say_where_their_weights_come_from(tmp_path):
    trained = create_model("crnn_vgg")
    path = save_checkpoint(tmp_path / "run7.pt", trained)
    from_file, fresh = load_subjects(["crnn_vgg"], [str(path)], seed=3, untrained_names=True)
    assert (from_file.label, from_file.trained, from_file.weights) == ("crnn_vgg (run7.pt)", True, str(path))
    assert (fresh.label, fresh.trained) == ("crnn_vgg", False) and "seed 3" in fresh.weights
    for name, tensor in trained.state_dict().items():
        torch.testing.assert_close(from_file.model.state_dict()[name], tensor)
    again = load_subjects(["crnn_vgg"], [], seed=3, untrained_names=True)[0]
    torch.testing.assert_close(again.model.head[-1].proj.weight, fresh.model.head[-1].proj.weight)
    assert not from_file.model.training and not fresh.model.training


def test_a_name_means_its_shipped_weights_unless_untrained_is_asked_for():
    from zoo.factory import load_model

    [shipped] = load_subjects(["crnn_vgg"], [])  # as `zoo eval crnn_vgg` and `zoo predict --model crnn_vgg`
    assert shipped.trained and shipped.weights.startswith("shipped: ") and shipped.weights.endswith("crnn_vgg.safetensors")
    expected = load_model("crnn_vgg").state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in shipped.model.state_dict().items())
    with pytest.raises(FileNotFoundError, match="no shipped weights for 'grcnn_small'"):
        load_subjects(["grcnn_small"], [])
    [fresh] = load_subjects(["grcnn_small"], [], untrained_names=True)
    assert not fresh.trained


def test_checkpoints_with_the_same_file_name_are_told_apart_by_their_run(tmp_path):
    # a study compares runs/<model>-s<seed>/best.pt: the file name alone would label them alike
    paths = [save_checkpoint(tmp_path / run / "best.pt", create_model("crnn_vgg")) for run in ("a-s0", "a-s1")]
    labels = [s.label for s in load_subjects([], [str(p) for p in paths])]
    assert labels == ["crnn_vgg (a-s0/best.pt)", "crnn_vgg (a-s1/best.pt)"]
    with pytest.raises(ValueError, match="listed twice"):
        load_subjects([], [str(paths[0]), str(paths[0])])


def test_no_model_or_a_model_twice_is_an_error():
    with pytest.raises(ValueError, match="--models"):
        load_subjects([], [])
    with pytest.raises(ValueError, match="listed twice: crnn_vgg"):
        load_subjects(["crnn_vgg", "crnn_vgg"], [])


def test_find_images_reads_directories_files_labels_and_limit(tmp_path):
    for name in ("b.png", "a.jpg", "c.PNG"):
        Image.new("L", (40, 16)).save(tmp_path / name)
    (tmp_path / "gt.txt").write_text("a.jpg\tHello\nb.png\tworld\n")
    images = find_images([str(tmp_path)], limit=2)
    assert [p.name for p in images.paths] == ["a.jpg", "b.png"]
    assert images.found == 3 and [p.split("/")[-1] for p in images.ignored] == ["gt.txt"]
    assert images.label(images.paths[0]) == "Hello"
    with pytest.raises(ValueError, match="gt.txt: not an image file"):
        find_images([str(tmp_path / "gt.txt")])
    with pytest.raises(FileNotFoundError, match="nope.png: no such image"):
        find_images([str(tmp_path / "nope.png")])
