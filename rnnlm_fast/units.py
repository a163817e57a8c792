"""Unit conversions shared across the package."""

from __future__ import annotations

import math

LN10 = math.log(10.0)
"""ln 10: a log10 probability times LN10 is a natural-log probability."""
