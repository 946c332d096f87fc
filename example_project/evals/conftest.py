"""Makes the bot package and the scorers importable from the eval files."""

import sys
from pathlib import Path

here = Path(__file__).parent
sys.path[:0] = [str(here.parent), str(here)]
