"""Cell formatting shared by the renderers."""

import math


def format_cell(value, fmt, *, true="yes", false="NO", missing="--"):
    """Text of one cell: bools as ``true``/``false``, ``None`` and NaN as ``missing``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    if isinstance(value, bool):
        return true if value else false
    if isinstance(value, str):
        return value
    return fmt.format(value)
