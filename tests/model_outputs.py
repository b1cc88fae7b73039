"""Comparing model outputs: nested dicts of arrays, element for element."""

from __future__ import annotations

import numpy as np


def same_outputs(expected: object, got: object) -> bool:
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and expected.keys() == got.keys()
            and all(same_outputs(expected[k], got[k]) for k in expected)
        )
    if expected is None:
        return got is None
    return np.array_equal(np.asarray(expected), np.asarray(got))
