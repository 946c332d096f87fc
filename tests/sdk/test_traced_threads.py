"""``TracedThreadPoolExecutor``: spans started by pool tasks nest under the submitter's span."""

from __future__ import annotations

import concurrent.futures

import braintrust


def test_pool_tasks_nest_under_the_submitters_span_and_a_plain_pools_do_not(bt_logs):
    logger = braintrust.init_logger(project="threads")

    @braintrust.traced
    def work(n):
        return n * 2

    with logger.start_span(name="batch") as batch:
        with braintrust.TracedThreadPoolExecutor(max_workers=2) as pool:
            assert list(pool.map(work, [1, 2, 3])) == [2, 4, 6]
            assert pool.submit(work, n=4).result() == 8
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as plain:
            plain.submit(work, 5).result()
    rows = [r for r in bt_logs.rows() if r["span_attributes"]["name"] == "work"]
    nested = sorted(r["input"]["n"] for r in rows if r["span_parents"] == [batch.span_id])
    assert nested == [1, 2, 3, 4]
    (unnested,) = [r for r in rows if r["span_parents"] != [batch.span_id]]
    assert unnested["input"] == {"n": 5} and unnested["root_span_id"] != batch.root_span_id
