"""Attachments where users meet them in evals: cases, data records, datasets, the run summary."""

from __future__ import annotations

import json


def test_a_relative_path_is_the_file_where_the_test_made_it_after_the_directory_changed_back(bt):
    """The bytes of ``Attachment(data="chart.png")`` are read at the session's flush, after
    ``monkeypatch.chdir`` was undone: the path names the file of the directory it was made in."""
    bt.pytester.makepyfile(
        test_chart='''
        from braintrust import Attachment
        from pytest_braintrust import eval_case

        @eval_case(input="draw")
        def test_chart(braintrust_case, tmp_path, monkeypatch):
            monkeypatch.chdir(tmp_path)
            with open("chart.png", "wb") as handle:
                handle.write(b"CHART")
            braintrust_case.log_output(Attachment(data="chart.png", filename="chart.png", content_type="image/png"))
        '''
    )
    result = bt.run("--braintrust", "--braintrust-json=out.json")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["rows: 2 sent, 0 spilled, 0 dropped; attachments: 1 stored (flush *s)"])
    delivery = json.loads((bt.path / "out.json").read_text())["delivery"]
    assert (delivery["attachments_stored"], delivery["attachments_dropped"], delivery["errors"]) == (1, {}, [])
    output = bt.roots()["test_chart"]["output"]
    with bt.store() as store:
        assert store.get_attachment(output["key"])["data"] == b"CHART"


def test_a_missing_file_keeps_its_cases_row_and_is_named_and_counted(bt):
    """``Attachment(data="nope.png")``: the case passes with its row (holding the reference), the
    summary and the JSON summary name the file, by the path it was looked for at, as dropped."""
    bt.pytester.makepyfile(
        test_missing='''
        from braintrust import Attachment
        from pytest_braintrust import eval_case

        @eval_case(input="y")
        def test_missing(braintrust_case):
            return {"image": Attachment(data="nope.png", filename="nope.png", content_type="image/png")}
        '''
    )
    result = bt.run("--braintrust", "--braintrust-json=out.json")
    assert result.ret == 0, result.stdout.str()
    where = str(bt.path / "nope.png")
    result.stdout.fnmatch_lines([
        "rows: 2 sent, 0 spilled, 0 dropped; attachments: 0 stored, 0 spilled, 1 dropped (unreadable: 1) (flush *s)",
        f"braintrust: attachment 'nope.png' could not be stored: Failed to read file: *{where}*",
    ])
    delivery = json.loads((bt.path / "out.json").read_text())["delivery"]
    assert delivery["attachments_dropped"] == {"unreadable": 1} and where in delivery["errors"][0]
    reference = bt.roots()["test_missing"]["output"]["image"]
    assert reference["type"] == "braintrust_attachment" and reference["filename"] == "nope.png"


DATASET_SUITE = '''
from braintrust import Attachment, ReadonlyAttachment, init_dataset
from pytest_braintrust import eval_case

def _dataset():
    dataset = init_dataset(project="atts", name="images")
    for n in (1, 2):
        dataset.insert(id=f"r{n}", input={"img": Attachment(data=b"IMG%d" % n, filename=f"i{n}.png", content_type="image/png")},
                       expected=f"IMG{n}")
    dataset.flush()
    return init_dataset(project="atts", name="images")

def reads_input(input, output, expected, **kwargs):
    assert isinstance(input["img"], ReadonlyAttachment)
    return input["img"].data.decode() == expected

@eval_case(data=_dataset, scorers=[reads_input])
def test_images(braintrust_case):
    return braintrust_case.input["img"].data.decode()
'''


def _check_dataset_run(rows: list[dict]) -> None:
    roots = {row["span_attributes"]["name"]: row for row in rows if row.get("span_attributes") and not row.get("span_parents")}
    assert sorted(roots) == ["test_images[r1]", "test_images[r2]"]
    for n in (1, 2):
        root = roots[f"test_images[r{n}]"]
        assert root["output"] == f"IMG{n}"
        # (the record's attachment is logged again as its reference: the dataset's key)
        assert root["input"]["img"]["type"] == "braintrust_attachment" and root["input"]["img"]["filename"] == f"i{n}.png"
    scored = [row["scores"]["reads_input"] for row in rows if row.get("span_attributes", {}).get("name") == "reads_input"]
    assert scored == [1, 1]


def test_dataset_attachments_are_read_by_the_test_and_its_scorer_in_the_local_store(bt):
    bt.pytester.makepyfile(test_images=DATASET_SUITE)
    result = bt.run("--braintrust")
    assert result.ret == 0, result.stdout.str()
    [experiment] = bt.experiments(bt.path.name)
    _check_dataset_run(bt.rows(experiment))


def test_dataset_attachments_are_read_by_the_test_and_its_scorer_from_braintrust(bt_api):
    bt_api.pytester.makepyfile(test_images=DATASET_SUITE)
    result = bt_api.run("--braintrust")
    assert result.ret == 0, result.stdout.str()
    server = bt_api.server
    [experiment] = server.experiments()
    _check_dataset_run(server.rows("experiment", experiment["id"]))
    for row in server.rows("experiment", experiment["id"]):
        if row.get("span_attributes", {}).get("type") == "eval":
            assert server.attachment_data(row["input"]["img"]["key"]) == row["output"].encode()
