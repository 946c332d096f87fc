"""The ``pytest11`` entry point (``-p no:braintrust`` disables it).

Under pytest the SDK core keeps its local store in pytest's rootdir and, when its queue is
full, makes the producer wait briefly instead of spilling at once (the reliability policy).
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from braintrust.store.location import set_default_root
    from braintrust.delivery.policy import enable_pytest_backpressure

    set_default_root(config.rootpath)
    enable_pytest_backpressure()
