"""Shared test helpers: comparing pytrees of arrays (solutions, responses) leaf by leaf, and
central finite differences for gradient checks."""

import jax
import jax.numpy as jnp
import numpy as np


def tree_max_deviation(a, b) -> dict:
    """max |a − b| per leaf path of two pytrees with the same structure (NaN where both are
    NaN counts as equal)."""
    la, ta = jax.tree_util.tree_flatten_with_path(a)
    lb, tb = jax.tree_util.tree_flatten_with_path(b)
    if ta != tb:
        raise AssertionError(f"different tree structures:\n{ta}\n{tb}")
    out = {}
    for (path, x), (_, y) in zip(la, lb, strict=True):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape:
            raise AssertionError(f"{jax.tree_util.keystr(path)}: shapes {x.shape} != {y.shape}")
        both_nan = np.isnan(x) & np.isnan(y)
        d = np.where(both_nan, 0.0, np.abs(x - y))
        out[jax.tree_util.keystr(path)] = float(np.max(d)) if d.size else 0.0
    return out


def tree_allclose(a, b, *, atol: float, rtol: float = 0.0) -> bool:
    """True when every leaf of ``a`` is within atol + rtol·|b| of ``b`` (same structure)."""
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    if jax.tree_util.tree_structure(a) != jax.tree_util.tree_structure(b):
        return False
    return all(np.allclose(np.asarray(x), np.asarray(y), atol=atol, rtol=rtol, equal_nan=True)
               for x, y in zip(la, lb, strict=True))


def assert_tree_allclose(a, b, *, atol: float, rtol: float = 0.0):
    """``tree_allclose`` with a message naming the worst leaves."""
    if not tree_allclose(a, b, atol=atol, rtol=rtol):
        dev = tree_max_deviation(a, b)
        worst = sorted(dev.items(), key=lambda kv: -kv[1])[:5]
        raise AssertionError(f"trees differ (atol={atol:g}, rtol={rtol:g}); largest |a − b|: "
                             f"{worst}")


def central_differences(f, p0, eps: float):
    """Central finite differences (f(p0 + ε e_k) − f(p0 − ε e_k)) / 2ε of a scalar function of
    a 1-d parameter vector, one per component k: the independent reference for jax.grad."""
    p0 = jnp.asarray(p0)
    return np.array([(float(f(p0.at[k].add(eps))) - float(f(p0.at[k].add(-eps)))) / (2 * eps)
                     for k in range(p0.shape[0])])
