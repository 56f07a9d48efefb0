"""Small numpy helpers the index's parts share."""

from __future__ import annotations

import numpy as np


def joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    """Arrays concatenated as ``dtype`` (an empty array when there are none)."""
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
