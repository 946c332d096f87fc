"""Whether another installed distribution also provides the ``braintrust`` module.

pytest-braintrust ships ``braintrust`` as the public SDK's distribution does; with both
installed, which files ``import braintrust`` loads depends on install order. Both packages
call ``warn_if_shadowed`` at import (the first call in a process warns): ``braintrust`` for
SDK users, and ``pytest_braintrust`` because the public SDK installed after ours replaces
``braintrust/__init__.py`` -- and its check -- while this package stays ours alone. It imports
nothing but the standard library, so importing ``braintrust`` stays free of pytest.
"""

from __future__ import annotations

#: The distribution this package ships in; another one providing ``braintrust`` is a conflict.
OWN_DISTRIBUTION = "pytest-braintrust"
_shadow_warned = False


def other_braintrust_distribution() -> tuple[str, str] | None:
    """``(version, metadata dir)`` of an installed distribution named ``braintrust`` (the public
    SDK), or None. Cheap: one directory listing per ``sys.path`` entry, no metadata parsing
    unless a candidate is found (importing ``importlib.metadata`` alone would cost ~15 ms)."""
    import os
    import sys

    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            lowered = name.lower()
            if not lowered.startswith("braintrust") or not lowered.endswith((".dist-info", ".egg-info")):
                continue
            project, _, version = name.rsplit(".", 1)[0].partition("-")
            if project.lower() != "braintrust":
                continue
            path = os.path.join(entry or ".", name)
            headers = _metadata_headers(path)
            if headers is not None:
                if headers.get("name", "").strip().lower().replace("_", "-").replace(".", "-") != "braintrust":
                    continue
                version = headers.get("version") or version
            elif not version[:1].isdigit():
                continue
            return (version or "(unknown version)"), path
    return None


def _metadata_headers(path: str) -> dict[str, str] | None:
    """The ``Name``/``Version`` headers of a dist-info/egg-info directory (None if unreadable)."""
    import os

    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(path, filename), encoding="utf-8", errors="replace") as handle:
                headers: dict[str, str] = {}
                for line in handle:
                    if not line.strip():
                        break
                    key, sep, value = line.partition(":")
                    if sep and key.lower() in ("name", "version"):
                        headers[key.lower()] = value.strip()
                return headers
        except OSError:
            continue
    return None


def warn_if_shadowed() -> None:
    global _shadow_warned
    if _shadow_warned:
        return
    _shadow_warned = True
    try:
        other = other_braintrust_distribution()
    except Exception:  # a diagnostic must never break the import
        return
    if other is None:
        return
    import warnings

    version, path = other
    warnings.warn(
        f"Another installed distribution, braintrust {version} ({path}), also provides the "
        f"`braintrust` module, as {OWN_DISTRIBUTION} does; which one `import braintrust` loads "
        "depends on install order. Fix: `pip uninstall braintrust`, then install pytest-braintrust "
        "again (`pip install --force-reinstall --no-deps` with what you installed it from): both "
        "install the same files, so the uninstall removes them. pytest-braintrust provides the same API.",
        UserWarning,
        stacklevel=3,
    )
