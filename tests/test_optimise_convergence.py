"""optimise_preparation explains its convergence: which criterion was met or missed and by how
much (numbers checked against the returned history)."""

import numpy as np

import jaxtransport as jt
from jaxtransport import demo


def test_convergence_is_explained():
    model = demo.two_site_model()
    times = np.linspace(0.0, 3.0, 16)
    resp = jt.response(model, times, jt.Pade())
    obj = jt.UphillHeat(smoothing=0.01)
    res = jt.optimise_preparation(model, times, obj, response=resp, steps=20, n_starts=3,
                                  check_every=10, tolerance=1e-14, progress=False)
    assert not res.converged
    assert res.convergence.startswith("not converged after 20 steps (the limit)")
    v = res.history.objective.values  # (step, start): value before each step's update
    change = np.abs(v[-1] - v[-10])
    allowed = 1e-14 * np.maximum(1.0, np.abs(v[-1]))
    assert f"largest change {change.max():.3g}" in res.convergence
    assert f"{int(np.sum(change > allowed))} of 3 starts" in res.convergence
    loose = jt.optimise_preparation(model, times, obj, response=resp, steps=50, n_starts=2,
                                    check_every=10, tolerance=1e3, progress=False)
    assert loose.converged and loose.n_steps == 10
    assert loose.convergence.startswith("converged after 10 steps")


def test_uphill_objectives_are_config_kinds():
    import tomllib
    from pathlib import Path

    from jaxtransport.optimise import config as oc

    path = Path(__file__).resolve().parents[1] / "experiments/configs/optimise_two_site.toml"
    raw = tomllib.loads(path.read_text())
    for kind, cls in (("uphill_heat", jt.UphillHeat), ("uphill_duration", jt.UphillDuration)):
        raw["objective"] = {"kind": kind, "window": [0.0, 6.0], "smoothing": 0.002}
        objective = oc.build(oc.validate(raw))[3]
        assert isinstance(objective, cls) and objective.smoothing == 0.002
