"""pytest-braintrust: turn pytest suites into Braintrust experiments."""

from typing import Any

from pytest_braintrust.distribution import warn_if_shadowed

warn_if_shadowed()

__all__ = ["eval_case"]


def __getattr__(name: str) -> Any:
    # Imported on first use: ``import braintrust`` imports this package (for the check above),
    # and marks import pytest.
    if name == "eval_case":
        from pytest_braintrust.marks import eval_case

        return eval_case
    raise AttributeError(f"module 'pytest_braintrust' has no attribute {name!r}")
