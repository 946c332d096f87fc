"""``python -m braintrust ...``: the ``braintrust`` command."""

import sys

from braintrust.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
