"""A run folder's log: one reader for the trainer, the curves, studies and their figures."""
import json

from zoo.train.run_folder import LOG, append_log, read_log, truncate_log


def test_the_log_reads_back_its_records_and_a_resume_keeps_its_earlier_lines_as_written(tmp_path):
    log = tmp_path / LOG
    log.write_text("")
    for step in (1, 2, 3):
        append_log(log, {"step": step, "loss": 1.0 / step})
    append_log(log, {"step": 3, "val_accuracy": 0.5})
    assert [r["step"] for r in read_log(log)] == [1, 2, 3, 3] and read_log(log)[3]["val_accuracy"] == 0.5
    log.write_text('{"step": 1,   "loss": 2.5}\n\n' + "".join(json.dumps({"step": s}) + "\n" for s in (2, 3)))
    truncate_log(log, 2)  # the checkpoint was at step 2: step 3 runs again
    assert log.read_text() == '{"step": 1,   "loss": 2.5}\n{"step": 2}\n'
