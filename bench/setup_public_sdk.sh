#!/usr/bin/env bash
# Create bench/.venvs/public-sdk: a virtual environment holding the public Braintrust SDK
# (braintrust==0.48.1), used by bench/bench_logger.py to run the same workload side by side
# with ours. The public SDK never goes into the system Python.
#
#     bash bench/setup_public_sdk.sh          # idempotent: does nothing if already set up
#
# The SDK's wheel pins a certifi newer than the registry holds, so it is installed with
# --no-deps and its runtime dependencies are installed by name afterwards.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venvs/public-sdk"
version="0.48.1"
python_bin="${PYTHON:-python3}"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "
import importlib.metadata as m, sys
sys.exit(0 if m.version('braintrust') == '$version' else 1)" 2>/dev/null; then
    echo "public SDK braintrust==$version already in $venv"
    exit 0
fi

"$python_bin" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --no-deps "braintrust==$version"
"$venv/bin/python" -m pip install --quiet certifi requests chevron tqdm exceptiongroup jsonschema \
    packaging sseclient-py python-slugify typing_extensions wrapt
# (From /, so that the checkout's own braintrust/ is not what this imports.)
(cd / && "$venv/bin/python" -c "import braintrust, importlib.metadata as m; print('public SDK braintrust', m.version('braintrust'), 'in $venv')")
