"""Write ``env_file_cases.json``: what the public SDK 0.48.1 reads as ``BRAINTRUST_API_KEY`` from a
``.env.braintrust`` file's contents, as golden answers for ours (``braintrust.config.env_file_value``).

    bench/.venvs/public-sdk/bin/python tests/data/config/record_env_file_cases.py

The public SDK parses the file with ``python-dotenv`` when it is installed, else with its own
reader; its venv has no ``python-dotenv`` (``bench/setup_public_sdk.sh``), so these are that
reader's answers. Each case is ``{"contents", "value"}`` (``value`` None: no key). Run it again
after adding cases.
"""

from __future__ import annotations

import json
from pathlib import Path

from braintrust.env import EnvParser, EnvVar

KEY = "BRAINTRUST_API_KEY"

CONTENTS = [
    f"{KEY}=sk-abc\n",
    f"{KEY}=sk-abc",
    f"{KEY}=sk-abc\r\n",
    f"export {KEY}=sk-abc\n",
    f"  export   {KEY} = sk-abc  \n",
    f"\t{KEY}=tabbed\n",
    f"export\t{KEY}=tab-after-export\n",
    f"export{KEY}=glued\n",
    f'{KEY}="sk-abc"\n',
    f"{KEY}='sk-abc'\n",
    f'{KEY}="sk abc"\n',
    f"{KEY}=sk abc\n",
    f"{KEY}=sk-abc # my key\n",
    f"{KEY}=sk-abc#not-a-comment\n",
    f"{KEY}=#starts-with-hash\n",
    f"{KEY} = 'sk-q' # quoted, then a comment\n",
    f'{KEY}="sk\\"x"\n',
    f"{KEY}='it''s'\n",
    f"{KEY}=$HOME\n",
    f"{KEY}=a=b\n",
    f"{KEY}=sk-\u00e9\u2603\n",
    f"{KEY}=\n",
    f"{KEY}=   \n",
    f'{KEY}=""\n',
    f'{KEY}="  "\n',
    f'{KEY}="unclosed\n',
    f"# {KEY}=commented\n{KEY}=sk-real\n",
    f"   # {KEY}=indented-comment\n",
    f"OTHER=1\n{KEY}=sk-2\n{KEY}=sk-3\n",
    f"{KEY}=\n{KEY}=sk-later\n",
    f"{KEY}\n{KEY}=after-a-bare-name\n",
    f"{KEY}_OLD=x\n",
    f"{KEY.lower()}=sk-lower\n",
    "=value\n",
    "\n\n   \n",
    "",
]


def main() -> None:
    reader = EnvVar(KEY, EnvParser.STRING)
    cases = [{"contents": contents, "value": reader._parse_dotenv_contents(contents)} for contents in CONTENTS]
    out = {"recorded_with": "braintrust 0.48.1: braintrust.env.EnvVar('BRAINTRUST_API_KEY', EnvParser.STRING)._parse_dotenv_contents(contents), without python-dotenv", "cases": cases}
    path = Path(__file__).with_name("env_file_cases.json")
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(cases)} cases -> {path}")


if __name__ == "__main__":
    main()
