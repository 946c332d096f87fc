"""pytest-braintrust: turn pytest suites into Braintrust experiments."""

from typing import TYPE_CHECKING, Any

from pytest_braintrust.distribution import warn_if_shadowed

if TYPE_CHECKING:  # (type checkers see the real signature; at run time it is imported on first use)
    from pytest_braintrust.marks import eval_case

warn_if_shadowed()

__all__ = ["eval_case"]


def __getattr__(name: str) -> Any:
    # Imported on first use: ``import braintrust`` imports this package (for the check above),
    # and marks import pytest.
    if name == "eval_case":
        from pytest_braintrust.marks import eval_case

        return eval_case
    raise AttributeError(f"module 'pytest_braintrust' has no attribute {name!r}")
