"""pytest-braintrust: turn pytest suites into Braintrust experiments."""
