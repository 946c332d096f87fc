"""pytest-braintrust: turn pytest suites into Braintrust experiments."""

from pytest_braintrust.marks import eval_case

__all__ = ["eval_case"]
