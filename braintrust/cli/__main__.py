"""``python -m braintrust.cli ...``: the ``braintrust`` command, at 0.48.1's module path."""

import sys

from braintrust.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
