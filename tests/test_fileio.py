import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.fileio import atomic_path, exclusive, listed_image, read_lines, read_utf8


def dead_pid() -> int:
    """The pid of a process that has exited (what a killed writer leaves in its temporary's name)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_write_removes_temporaries_of_killed_writers_but_not_of_live_ones(tmp_path):
    stale_file = tmp_path / f".tmp-{dead_pid()}-last.pt"
    stale_file.write_bytes(b"x" * 1000)
    stale_dir = tmp_path / f".tmp-{dead_pid()}-last.pt"  # a killed LMDB writer's is a directory
    stale_dir.mkdir()
    (stale_dir / "data.mdb").write_bytes(b"x")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    working = tmp_path / f".tmp-{live.pid}-last.pt"
    working.write_bytes(b"in progress")
    other_target = tmp_path / f".tmp-{dead_pid()}-best.pt"
    other_target.write_bytes(b"x")
    try:
        with atomic_path(tmp_path / "last.pt") as tmp:
            tmp.write_text("new")
    finally:
        live.kill()
        live.wait()
    assert not stale_file.exists() and not stale_dir.exists()
    assert working.exists() and other_target.exists()  # a live writer's work, another target's temporaries
    assert (tmp_path / "last.pt").read_text() == "new"


def test_a_second_holder_of_a_folder_is_refused_naming_the_first(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom zoo.fileio import exclusive\n"
                               "with exclusive(sys.argv[1], 'writer'):\n    print('held', flush=True)\n"
                               "    time.sleep(60)\n", str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RuntimeError, match=rf"run is in use by another writer \(pid {holder.pid}\)"):
            with exclusive(tmp_path / "run", "writer"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with exclusive(tmp_path / "run", "writer"):  # a killed holder's lock died with it
        pass


def test_two_writers_of_one_directory_target_swap_one_at_a_time(tmp_path, monkeypatch):
    """Two `zoo data synth` onto one path: each removes the old target and renames its own onto it;
    interleaved, one removes the other's new database mid-rename (the probe's OSError from rmtree)."""
    import threading
    import time

    from zoo import fileio

    inside, most, real_replace = [0], [0], os.replace

    def slow_replace(src, dst):
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.3)
        real_replace(src, dst)
        inside[0] -= 1

    monkeypatch.setattr(fileio.os, "replace", slow_replace)
    # two threads stand for two processes: each its own temporary, neither's taken for a dead one's
    monkeypatch.setattr(fileio.os, "getpid", lambda: 100_000 + threading.get_ident() % 100_000)
    monkeypatch.setattr(fileio, "_alive", lambda pid: True)

    def write(seed):
        with atomic_path(tmp_path / "same.lmdb", lambda target: None) as tmp:
            tmp.mkdir()
            (tmp / "data.mdb").write_text(str(seed))

    writers = [threading.Thread(target=write, args=(seed,)) for seed in (1, 2)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert most[0] == 1 and (tmp_path / "same.lmdb" / "data.mdb").read_text() in ("1", "2")
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, a folder that takes no file")
def test_a_folder_that_takes_no_file_is_named_before_any_work():
    # before: the writing library's error named its temporary (/proc/.tmp-7557-x.lmdb), or a SafetensorError traceback
    with pytest.raises(OSError, match=r"/proc/x.bin: cannot write in /proc"):
        with atomic_path("/proc/x.bin"):
            raise AssertionError("the work started")


def test_an_output_gets_the_usual_mode_even_when_its_writer_made_it_private(tmp_path):
    with atomic_path(tmp_path / "weights.bin") as tmp:
        tmp.write_bytes(b"x")
        os.chmod(tmp, 0o600)  # what safetensors' writer does
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "weights.bin").stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_file_where_the_output_folder_should_be_is_named(tmp_path, capsys):
    # before: "[Errno 20] Not a directory: '.../protected.txt/grcnn/ic03'" or "[Errno 17] File exists"
    from zoo.cli import main
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(NotADirectoryError, match=r"notes.txt is a file, not a folder, so .*notes.txt/a/b.md cannot"):
        with atomic_path(notes / "a" / "b.md"):
            pass
    assert main(["models", "crnn_vgg", "--out", str(notes)]) == 1
    assert f"{notes} is a file, not a folder" in " ".join(capsys.readouterr().err.split())
    assert notes.read_text() == "mine"


def test_text_lines_end_only_at_line_ends_and_a_folder_given_as_a_file_is_named(tmp_path):
    text = tmp_path / "gt.txt"
    text.write_bytes("\ufeffa.png\tform\x0cfeed\r\nb.png\tline\u2028sep\rc.png\tc\n".encode())
    assert read_lines(text) == ["a.png\tform\x0cfeed", "b.png\tline\u2028sep", "c.png\tc"]
    folder = tmp_path / "words"
    folder.mkdir()
    # before: [Errno 21] Is a directory: '.../words'
    with pytest.raises(IsADirectoryError, match=r"lexicon .*words is a folder, not a text file; name the file itself"):
        read_utf8(folder, "lexicon")


def test_a_listed_image_outside_the_lists_folder_is_refused(tmp_path):
    assert listed_image(tmp_path, "./sub/a.png", "gt.txt line 1") == tmp_path / "sub" / "a.png"
    for name in ("../secret.png", "sub/../../secret.png", "/etc/passwd"):
        with pytest.raises(ValueError, match=rf"gt.txt line 3: the image path '{name}' leads outside {tmp_path}"):
            listed_image(tmp_path, name, "gt.txt line 3")


def test_a_listed_image_linking_outside_the_folder_is_refused_a_linked_folder_is_not(tmp_path):
    # before: a symbolic link in a data set's folder read whatever file it pointed at
    outside, data = tmp_path / "secret.png", tmp_path / "data"
    outside.write_bytes(b"secret")
    (data / "sub").mkdir(parents=True)
    (data / "a.png").write_bytes(b"image")
    (data / "leak.png").symlink_to(outside)
    (data / "sub" / "b.png").symlink_to(data / "a.png")  # a link inside the folder: read
    (data / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    for name in ("leak.png", "elsewhere/secret.png"):  # a linked image, or a linked folder on its path
        with pytest.raises(ValueError, match=rf"gt.txt line 2: the image .*{name} is a link to .*secret.png, outside"):
            listed_image(data, name, "gt.txt line 2")
    assert listed_image(data, "sub/b.png", "gt.txt line 3").read_bytes() == b"image"
    linked = tmp_path / "linked"
    linked.symlink_to(data, target_is_directory=True)  # the data set itself kept elsewhere
    assert listed_image(linked, "a.png", "gt.txt line 1").read_bytes() == b"image"


def test_a_locked_block_that_fails_before_writing_leaves_the_folder_as_it_found_it(tmp_path):
    # before: a `zoo train` refused once its data loaded left out/.lock, and out itself, behind
    with pytest.raises(ValueError):
        with exclusive(tmp_path / "runs" / "new", "writer"):
            raise ValueError("refused")
    assert list(tmp_path.iterdir()) == []  # the folders it made went with the lock
    mine = tmp_path / "mine"
    mine.mkdir()
    with pytest.raises(ValueError):
        with exclusive(mine, "writer"):
            raise ValueError("refused")
    assert mine.is_dir() and list(mine.iterdir()) == []  # the user's folder stays
    with pytest.raises(ValueError):
        with exclusive(tmp_path / "started", "writer") as lock:
            (lock.parent / "log.jsonl").write_text("{}\n")
            raise ValueError("failed at step 3")
    assert sorted(p.name for p in (tmp_path / "started").iterdir()) == [".lock", "log.jsonl"]  # a run's own
