"""Helpers of the CLI (the demo itself: tests/test_demo.py)."""

import numpy as np

from jaxtransport.plot import reversal_windows


def test_reversal_windows_interpolates_crossings():
    t = np.linspace(0, 4 * np.pi, 4001)
    w = reversal_windows(t, np.sin(t))
    assert len(w) == 2
    np.testing.assert_allclose(w[0], (np.pi, 2 * np.pi), atol=1e-6)
    np.testing.assert_allclose(w[1], (3 * np.pi, 4 * np.pi), atol=1e-6)
    assert reversal_windows(t, np.cos(t) + 2.0) == []
