"""Old names still accepted: the one deprecation mechanism, for options, flags and the n-best
API's renamed names (rnnlm_fast/options.py applies it to the table's ``deprecated=`` names)."""

from __future__ import annotations

import sys
import warnings
from typing import Any

def deprecated(message: str, stacklevel: int = 3, *, typed: bool = False) -> None:
    """The notice that an old name was used: a DeprecationWarning. ``typed``: a flag someone typed,
    shown even where Python hides DeprecationWarnings raised outside ``__main__`` (whoever typed
    it is the one to tell); ``-W`` options still rule."""
    with warnings.catch_warnings():
        if typed and not sys.warnoptions:
            warnings.simplefilter("default", DeprecationWarning)
        warnings.warn(message, DeprecationWarning, stacklevel=stacklevel + 1)


def renamed(old: str, old_value: Any, new: str, new_value: Any, *, stacklevel: int = 3, typed: bool = False,
            error: type[Exception] = TypeError, where: str = "") -> Any:
    """The value given under the new name ``new`` or, with a :func:`deprecated` notice, under the
    old one (None: not given). ``error`` (TypeError for the API, ConfigError for flags) when both
    are given; ``where`` prefixes the notice (e.g. the command)."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise error(f"give {new} only, not also its deprecated name {old}")
    deprecated(f"{where}{old} is deprecated; use {new}", stacklevel=stacklevel + 1, typed=typed)
    return old_value
