"""Parametrized datasets (issue item 3): every parametrization of a marked test is a case; data
from a list, a callable, a JSONL file or a Braintrust dataset (pinned or not, from the local
store), with readable, stable pytest ids."""

from __future__ import annotations

import json
import re

import braintrust
from braintrust.objects.dataset import init_dataset


def collected_ids(result) -> list[str]:
    return [line.strip() for line in result.stdout.lines if re.match(r"^\s*\S+::\S+", line)]


def test_list_callable_and_jsonl(bt):
    (bt.path / "cases").mkdir()
    (bt.path / "cases" / "faq.jsonl").write_text(
        "\n".join(
            [
                json.dumps({"id": "refund/basic", "input": "How do I get a refund?", "expected": "refund", "metadata": {"p": 0}, "tags": ["faq"]}),
                "",
                json.dumps({"id": "refund/basic", "input": "Money back?", "expected": "refund"}),
                json.dumps({"input": "Where is my parcel?", "expected": "shipping"}),
            ]
        )
        + "\n"
    )
    bt.pytester.makepyfile(
        test_suite_data='''
        import pytest
        from pytest_braintrust import eval_case

        RECORDS = [{"id": "one", "input": 1, "expected": 2}, {"id": "two", "input": 2, "expected": 4}]

        def load():
            return ["plain", {"question": "dict without input"}]

        @eval_case(data=RECORDS)
        def test_from_list(braintrust_case):
            assert braintrust_case.input * 2 == braintrust_case.expected
            return braintrust_case.input * 2

        @eval_case(data=load, metadata={"source": "callable"})
        def test_from_callable(braintrust_case):
            braintrust_case.log_output(repr(braintrust_case.input))

        @eval_case(data="cases/faq.jsonl")
        def test_from_jsonl(braintrust_case):
            assert braintrust_case.expected in ("refund", "shipping")

        @pytest.mark.braintrust(expected="same for all")
        @pytest.mark.parametrize("n", [1, 2])
        @pytest.mark.parametrize("word", ["x"])
        def test_plain_parametrize(n, word):
            pass
        '''
    )
    collected = bt.run("--collect-only", "-q")
    ids = collected_ids(collected)
    assert ids == [
        "test_suite_data.py::test_from_list[one]",
        "test_suite_data.py::test_from_list[two]",
        "test_suite_data.py::test_from_callable[plain]",  # no id: a string input names it
        "test_suite_data.py::test_from_callable[case-2]",  # no id, a dict input: its position
        "test_suite_data.py::test_from_jsonl[refund_basic]",
        "test_suite_data.py::test_from_jsonl[refund_basic-2]",
        "test_suite_data.py::test_from_jsonl[Where_is_my_parcel]",
        "test_suite_data.py::test_plain_parametrize[x-1]",
        "test_suite_data.py::test_plain_parametrize[x-2]",
    ]
    assert collected_ids(bt.run("--collect-only", "-q")) == ids  # stable

    result = bt.run("--braintrust")
    result.assert_outcomes(passed=9)
    roots = bt.roots()
    assert roots["test_from_list[two]"]["input"] == 2
    assert roots["test_from_list[two]"]["expected"] == 4
    assert roots["test_from_list[two]"]["output"] == 4
    assert roots["test_from_callable[plain]"]["input"] == "plain"
    assert roots["test_from_callable[case-2]"]["input"] == {"question": "dict without input"}
    assert roots["test_from_callable[case-2]"]["metadata"]["source"] == "callable"
    faq = roots["test_from_jsonl[refund_basic]"]
    assert faq["input"] == "How do I get a refund?" and faq["expected"] == "refund"
    assert faq["metadata"]["p"] == 0 and faq["tags"] == ["faq"]
    assert faq["metadata"]["pytest"]["parametrize_id"] == "refund_basic"
    # Plain parametrize: the params are the input (pytest ids kept), expected as declared.
    plain = roots["test_plain_parametrize[x-2]"]
    assert plain["input"] == {"n": 2, "word": "x"}
    assert plain["expected"] == "same for all"


def test_jsonl_errors_name_the_line(bt):
    bt.pytester.makefile(".jsonl", bad='{"input": 1}\n{"input": 2,,}\n', notobject='{"input": 1}\n[1, 2]\n',
                         noinput='{"input": 1, "expected": 1}\n{"expected": 2}\n')
    bt.pytester.makefile(".json", wrongsuffix='{"input": 1}\n')
    cases = {
        "bad.jsonl": r"bad.jsonl:2: not valid JSON (*); every line must be one JSON object.",
        "notobject.jsonl": r"notobject.jsonl:2: expected a JSON object with input/expected, got list.",
        # (not taken as the input {"expected": 2} with no expected value)
        "noinput.jsonl": r'noinput.jsonl:2: has "expected" but no "input"; write {"input": ..., "expected": ...}*',
        "missing.jsonl": r"data=*missing.jsonl*: cannot read the file (No such file or directory); a relative path is "
                         r"looked up next to the test file, then in the rootdir (*missing.jsonl).",
        "wrongsuffix.json": r"data=*wrongsuffix.json*: only .jsonl files are read*",
    }
    for path, message in cases.items():
        bt.pytester.makepyfile(
            test_suite_jsonl=f'''
            from pytest_braintrust import eval_case

            @eval_case(data={path!r})
            def test_it(braintrust_case):
                pass
            '''
        )
        result = bt.run("-q")  # errors at collection, with or without --braintrust
        assert result.ret == 2, path  # a collection error of the module
        result.stdout.fnmatch_lines([f"*{message}*"])
        assert "Traceback" not in result.stdout.str() and "pytest_braintrust" not in result.stdout.str()


def test_other_data_errors_name_the_test_and_the_fix(bt):
    cases = {
        "42": "test_it: data= must be a list, a callable, a .jsonl path or a Dataset; got int.",
        "{'input': 1}": "test_it: data= must be a list, a callable, a .jsonl path or a Dataset; got dict.",
        "[]": "test_it: the data source [] has no records.",
        "lambda: []": "test_it: the data source <function <lambda> at *> has no records.",
        "[{'input': 1}, {'input': 2, 'metadata': 'urgent'}]": "record 2: metadata must be an object, got str.",
    }
    for data, message in cases.items():
        bt.pytester.makepyfile(
            test_suite_data=f'''
            from pytest_braintrust import eval_case

            @eval_case(data={data})
            def test_it(braintrust_case):
                pass
            '''
        )
        result = bt.run("-q")
        assert result.ret == 2, data
        result.stdout.fnmatch_lines([f"*{message}*"])
        assert "Traceback" not in result.stdout.str(), data


def test_braintrust_dataset_pinned_and_unpinned(bt):
    dataset = init_dataset(project="data", name="faq")
    dataset.insert(id="refund", input="How do I get a refund?", expected="refund", metadata={"p": 0})
    dataset.insert(id="ship", input="Where is my parcel?", expected="shipping", tags=["faq"])
    braintrust.flush()
    first_version = dataset.version
    dataset = init_dataset(project="data", name="faq")
    dataset.insert(id="later", input="Added later", expected="other")
    braintrust.flush()
    dataset_id = dataset.id
    braintrust.delivery.runtime.reset_for_tests()

    bt.pytester.makepyfile(
        test_suite_dataset=f'''
        import braintrust
        from pytest_braintrust import eval_case

        @eval_case(data=braintrust.init_dataset(project="data", name="faq"))
        def test_current(braintrust_case):
            braintrust_case.log_output(braintrust_case.expected)

        @eval_case(data=braintrust.init_dataset(project="data", name="faq", version={first_version!r}))
        def test_pinned(braintrust_case):
            braintrust_case.log_output(braintrust_case.expected)
        '''
    )
    ids = collected_ids(bt.run("--collect-only", "-q"))
    assert sorted(ids) == [
        "test_suite_dataset.py::test_current[later]",
        "test_suite_dataset.py::test_current[refund]",
        "test_suite_dataset.py::test_current[ship]",
        "test_suite_dataset.py::test_pinned[refund]",
        "test_suite_dataset.py::test_pinned[ship]",
    ]
    result = bt.run("--braintrust", "--braintrust-project", "evals")
    result.assert_outcomes(passed=5)
    (experiment,) = bt.experiments("evals")
    roots = bt.roots(experiment)
    ship = roots["test_pinned[ship]"]
    assert ship["input"] == "Where is my parcel?" and ship["expected"] == "shipping" and ship["tags"] == ["faq"]
    assert ship["output"] == "shipping"
    # The row links back to the dataset record, as Eval's rows do.
    assert ship["origin"]["object_type"] == "dataset"
    assert ship["origin"]["object_id"] == dataset_id
    assert ship["origin"]["id"] == "ship"
    assert roots["test_current[refund]"]["metadata"]["p"] == 0
    assert experiment["dataset_id"] is None  # (two versions of the dataset: linked row by row only)

    # One version of one dataset: the experiment is linked to it, as Eval's is.
    (bt.pytester.path / "test_suite_dataset.py").unlink()
    bt.pytester.makepyfile(
        test_suite_one_dataset=f'''
        import braintrust
        import pytest
        from pytest_braintrust import eval_case

        @eval_case(data=braintrust.init_dataset(project="data", name="faq", version={first_version!r}))
        def test_pinned(braintrust_case):
            braintrust_case.log_output(braintrust_case.expected)

        @eval_case(data=braintrust.init_dataset(project="data", name="faq", version={first_version!r}), project="other")
        def test_elsewhere(braintrust_case):
            pass
        '''
    )
    bt.run("--braintrust", "--braintrust-project", "linked").assert_outcomes(passed=4)
    for project in ("linked", "other"):
        (linked,) = bt.experiments(project)
        assert (linked["dataset_id"], linked["dataset_version"]) == (dataset_id, first_version)
    (bt.pytester.path / "test_suite_one_dataset.py").unlink()

    # A version from before the first record: an empty source, named with its version.
    bt.pytester.makepyfile(
        test_suite_dataset='''
        import braintrust
        from pytest_braintrust import eval_case

        @eval_case(data=braintrust.init_dataset(project="data", name="faq", version="1"))
        def test_too_early(braintrust_case):
            pass
        '''
    )
    early = bt.run("--braintrust", "-q")
    assert early.ret == 2
    early.stdout.fnmatch_lines([
        "*test_too_early: the data source Dataset(project='data', name='faq', version='1') has no records in the local store at "
        f"{bt.local_dir / 'braintrust.sqlite'}; check its project and name (`braintrust list` shows the datasets there), "
        "or add records with init_dataset(...).insert(input=..., expected=...)."
    ])
    assert "(a test is an eval case when" not in early.stdout.str()  # the case exists; its data failed


def test_braintrust_dataset_from_the_api(bt_api):
    server = bt_api.server
    dataset = init_dataset(project="api-data", name="faq")
    dataset.insert(id="refund", input="How do I get a refund?", expected="refund")
    dataset.insert(id="ship", input="Where is my parcel?", expected="shipping")
    braintrust.flush()
    dataset_id = dataset.id
    braintrust.delivery.runtime.reset_for_tests()
    bt_api.pytester.makepyfile(
        test_suite_api_dataset='''
        import braintrust
        from pytest_braintrust import eval_case

        @eval_case(data=braintrust.init_dataset(project="api-data", name="faq"))
        def test_it(braintrust_case):
            return braintrust_case.expected
        '''
    )
    result = bt_api.run("--braintrust", "--braintrust-project", "api-data", "-v")
    result.stdout.fnmatch_lines(["*test_it[[]refund[]] PASSED*", "*test_it[[]ship[]] PASSED*"])
    (project,) = [p for p in server.projects() if p["name"] == "api-data"]
    (experiment,) = server.experiments(project["id"])
    roots = {r["span_attributes"]["name"]: r for r in server.rows("experiment", experiment["id"]) if not r.get("span_parents")}
    assert roots["test_it[ship]"]["output"] == "shipping"
    assert roots["test_it[ship]"]["origin"]["object_id"] == dataset_id
    registration = [r.json for r in server.requests if r.path == "/v1/experiment" and r.method == "POST"][-1]
    assert (registration["dataset_id"], registration["dataset_version"]) == (dataset_id, roots["test_it[ship]"]["origin"]["_xact_id"])



def test_a_dataset_environment_decides_the_cases_under_xdist(bt_api):
    """``data=init_dataset(..., environment="production")``: the cases are the records of the
    version that environment points at, agreed between the workers through their pin file; each
    case's origin names the record's version."""
    server = bt_api.server
    dataset = init_dataset(project="env-data", name="faq")
    dataset.insert(id="refund", input="How do I get a refund?", expected="refund")
    braintrust.flush()
    server.set_environment_object("dataset", dataset.id, "production", dataset.version)
    production_version = dataset.version
    dataset.insert(id="draft", input="Not reviewed yet", expected="draft")
    braintrust.flush()
    braintrust.delivery.runtime.reset_for_tests()
    bt_api.pytester.makepyfile(
        test_suite_env_dataset='''
        import braintrust
        from pytest_braintrust import eval_case

        @eval_case(data=braintrust.init_dataset(project="env-data", name="faq", environment="production"))
        def test_it(braintrust_case):
            return braintrust_case.expected
        '''
    )
    result = bt_api.run_subprocess("--braintrust", "--braintrust-project", "env-data", "-n", "2", "-v")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*PASSED*test_it[[]refund[]]*", "*1 passed*"])
    assert "draft" not in result.stdout.str()
    (project,) = [p for p in server.projects() if p["name"] == "env-data"]
    (experiment,) = server.experiments(project["id"])
    (root,) = [r for r in server.rows("experiment", experiment["id"]) if not r.get("span_parents")]
    assert root["origin"]["object_id"] == dataset.id and root["origin"]["_xact_id"] == production_version
    # A worker that finds no pin yet asks; the first worker's pin wins, so both read one version.
    assert 1 <= len(server.requests_to(f"/environment-object/dataset/{dataset.id}/production", "GET")) <= 2

def test_ids_of_records_without_an_id_come_from_scalar_inputs_and_survive_insertions():
    from pytest_braintrust.case import DataRecord
    from pytest_braintrust.data import unique_ids

    before = [DataRecord(input="How do I reset my password?"), DataRecord(input=42), DataRecord(input={"q": 1})]
    after = [DataRecord(input="A new first question")] + before
    assert unique_ids(before) == ["How_do_I_reset_my_password", "42", "case-3"]
    assert unique_ids(after)[1:3] == ["How_do_I_reset_my_password", "42"]  # unchanged by the insertion
    repeated = [DataRecord(input="same"), DataRecord(input="same"), DataRecord(input="???"), DataRecord(input=True)]
    assert unique_ids(repeated) == ["same", "same-2", "case-3", "case-4"]  # nothing readable left: the position
    long = unique_ids([DataRecord(input="word " * 40)])[0]
    assert len(long) <= 60 and not long.endswith("_")
