from zoo.report import html_table, markdown_table, rich_table, write_table


def test_a_column_the_first_row_lacks_is_still_a_column(tmp_path):
    # before: `zoo ablate --status` showed no accuracy at all when its first run was unfinished, since
    # every table took its columns from the first row; the HTML table put values under the wrong heads
    rows = [{"run": "baseline-s0", "state": "training"}, {"run": "all-s0", "state": "finished", "svt None": 66.54}]
    md = markdown_table(rows).splitlines()
    assert md[0] == "| run | state | svt None |" and md[2] == "| baseline-s0 | training | - |"
    assert md[3] == "| all-s0 | finished | 66.54 |"
    cells = html_table([{"a": 1, "b": 2}, {"b": 3, "a": 4}]).split("<tbody>")[1]
    assert cells == "<tr><td>1</td><td>2</td></tr><tr><td>4</td><td>3</td></tr></tbody></table>"
    assert [c.header for c in rich_table(rows).columns] == ["run", "state", "svt None"]
    write_table(rows, tmp_path, "status")
    assert (tmp_path / "status.csv").read_text().splitlines()[1:] == ["baseline-s0,training,", "all-s0,finished,66.54"]
