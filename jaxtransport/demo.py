r"""``jaxtransport demo``: genuine cold-to-hot heat flow in seconds, printed, plotted and saved.

Two built-in examples between a hot (T = 1.5) and a cold (T = 0.5) Lorentzian lead
(γ = 0.5, W = 2, μ = 0; ħ = k_B = 1; currents OUT OF each reservoir):

- ``single_level``: one level at ε = 1, initially filled, coupled to both leads. It discharges
  into **both** leads (J^Q_hot < 0 and J^Q_cold < 0 at early times): no heat goes from cold to
  hot. (Measured over level energies, couplings and initial occupations: the uphill rate stays
  at round-off; see README "What can show uphill flow".)
- ``two_site``: two coupled sites, site 1 on the hot lead, site 2 on the cold lead, prepared
  with one electron in the orbital ψ = (√0.7, i√0.3) (C0 = ψψ†; the relative phase π/2
  makes the particle current between the sites start flowing from the cold-side site to the
  hot-side one). During a window at t ≈ 1.3–3 heat leaves the cold lead and enters the hot
  one at the same time: genuine uphill flow (``jt.thermodynamics.uphill_flow``). The
  preparation is the optimum found by ``jt.optimise_preparation`` with ``jt.UphillHeat``
  (``experiments/uphill_preparations.py``), rounded.

Everything is solved with ``jt.Pade()`` (closed-form transients for Lorentzian leads, with
its own error estimate) so the whole command runs in seconds.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

T_HOT, T_COLD = 1.5, 0.5
LEAD = dict(gamma=0.5, width=2.0)


def _reservoirs(jt, n):
    lead = jt.Lorentzian(**LEAD)
    hot_v, cold_v = np.zeros(n), np.zeros(n)
    hot_v[0], cold_v[-1] = 1.0, 1.0
    return (jt.Reservoir(lead, temperature=T_HOT, coupling=hot_v, name="hot"),
            jt.Reservoir(lead, temperature=T_COLD, coupling=cold_v, name="cold"))


def single_level_model():
    """One level at ε = 1 coupled to the hot and the cold lead (same coupling)."""
    import jaxtransport as jt

    return jt.Model([[1.0]], _reservoirs(jt, 1))


def two_site_model():
    """Sites at ε = 1.0 (hot lead) and 0.8 (cold lead), hopping 0.3."""
    import jaxtransport as jt

    return jt.Model(np.array([[1.0, 0.3], [0.3, 0.8]]), _reservoirs(jt, 2))


def uphill_preparation():
    """C0 = ψψ† with ψ = (√0.7, i√0.3): one electron, coherent over the two sites
    (C_ij = <a_j† a_i> = ψ_i ψ_j*)."""
    psi = np.array([np.sqrt(0.7), 1j * np.sqrt(0.3)])
    return np.outer(psi, psi.conj())


def examples():
    """[(name, model, C0, description)] of the demo."""
    return [
        ("single_level", single_level_model(), np.array([[1.0]]),
         "one level (eps=1) initially filled"),
        ("two_site", two_site_model(), uphill_preparation(),
         "two sites, one electron in psi=(sqrt(.7), i sqrt(.3))"),
    ]


def _log(msg, tic=None):
    if tic is not None:
        msg = f"{msg}  [{time.perf_counter() - tic:.2f} s]"
    print(msg, flush=True)


_UNITS = {
    "particle_current": ("particle current out of the reservoir, J^N = -d<N_alpha>/dt",
                         "1/hbar"),
    "energy_current": ("energy current out of the reservoir, J^E = -d<H_alpha>/dt",
                       "energy/hbar"),
    "heat_current": ("heat current out of the reservoir, J^Q = J^E - mu J^N", "energy/hbar"),
    "symmetric_heat_current": ("J^Q - (1/2) d<H_I>/dt (half the coupling energy to the "
                               "reservoir)", "energy/hbar"),
    "integrated_heat": ("heat out of the reservoir since t = 0, Q = int J^Q dt", "energy"),
    "coupling_energy": ("coupling energy <H_I^alpha>", "energy"),
    "occupation": ("site occupation <a_i^dagger a_i>", "1"),
    "system_energy": ("system energy <H_S> = Tr[h C]", "energy"),
    "correlation_real": ("Re C_ij(t), C_ij = <a_j^dagger a_i>", "1"),
    "correlation_imag": ("Im C_ij(t), C_ij = <a_j^dagger a_i>", "1"),
    "temperature": ("reservoir temperature", "energy (k_B = 1)"),
    "chemical_potential": ("reservoir chemical potential", "energy"),
    "uphill_rate": ("cold-to-hot transfer rate r = max(0, min(-J^Q_hot, J^Q_cold))",
                    "energy/hbar"),
    "uphill_heat": ("heat moved uphill (cold to hot) since t = 0, int r dt", "energy"),
    "entropy_production": ("entropy production S(t) - S(0) - sum_alpha Q_alpha/T_alpha",
                           "1 (k_B = 1)"),
    "hamiltonian_real": ("Re h, system single-particle Hamiltonian", "energy"),
    "hamiltonian_imag": ("Im h, system single-particle Hamiltonian", "energy"),
    "coupling_real": ("Re v_alpha,i, coupling of reservoir alpha to mode i", "1"),
    "coupling_imag": ("Im v_alpha,i, coupling of reservoir alpha to mode i", "1"),
    "initial_correlation_real": ("Re C0_ij, initial state C_ij = <a_j^dagger a_i>", "1"),
    "initial_correlation_imag": ("Im C0_ij, initial state C_ij = <a_j^dagger a_i>", "1"),
    "error_estimate": ("the solver's error estimate for this model (jt.Pade: N vs fewer "
                       "poles + rounding)", "same as the observables"),
}


def _dataset(name, model, c0, sol, flow, sigma, names):
    import jaxtransport as jt

    ds = sol.to_xarray(reservoir_names=names)
    ds["uphill_rate"] = ("time", flow.rate)
    ds["uphill_heat"] = ("time", flow.cumulative)
    ds["entropy_production"] = ("time", np.asarray(sigma))
    h = np.asarray(model.hamiltonian)
    ds["hamiltonian_real"], ds["hamiltonian_imag"] = (("mode", "mode_"), h.real), \
        (("mode", "mode_"), h.imag)
    v = np.stack([np.asarray(r.terms[0][1]) for r in model.reservoirs])
    ds["coupling_real"], ds["coupling_imag"] = (("reservoir", "mode"), v.real), \
        (("reservoir", "mode"), v.imag)
    ds["initial_correlation_real"] = (("mode", "mode_"), np.asarray(c0).real)
    ds["initial_correlation_imag"] = (("mode", "mode_"), np.asarray(c0).imag)
    ds["error_estimate"] = ((), float(np.max(np.asarray(sol.error_estimate))))
    for var in ds.data_vars:
        long, unit = _UNITS.get(var, (var, ""))
        ds[var].attrs.update(long_name=long, units=unit)
    ds["time"].attrs.update(long_name="time since the coupling was switched on",
                            units="hbar/energy")
    ds.attrs.pop("quadrature_error_estimate", None)
    lead = jt.Lorentzian(**LEAD)
    ds.attrs.update(model=name, spectral_density=repr(lead),
                    uphill_windows=str(flow.windows), uphill_heat_total=flow.heat)
    ren = {v_: f"{name}_{v_}" for v_ in ds.data_vars}
    return ds.rename(ren).rename({"mode": f"{name}_mode", "mode_": f"{name}_mode_"})


def demo(out: Path, t_max: float = 10.0, n_times: int = 201) -> int:
    """Run the demo (prints progress with timings, writes PNG + NetCDF into ``out``)."""
    t_start = time.perf_counter()
    _log("jaxtransport demo: genuine cold-to-hot heat flow during the transient")
    import jax

    import jaxtransport as jt
    from jaxtransport.thermodynamics import energy_balance, entropy_production

    bookkeeping = jax.jit(lambda s: (entropy_production(s), energy_balance(s)))
    _log(f"  hot lead T={T_HOT}, cold lead T={T_COLD}; Lorentzian gamma={LEAD['gamma']}, "
         f"W={LEAD['width']}, mu=0; hbar = k_B = 1; currents OUT OF each reservoir; "
         f"t in [0, {t_max:g}] ({n_times} times)")
    # grid graded towards t = 0 (J ~ t ln t there) so that the entropy production is accurate
    times = t_max * np.linspace(0.0, 1.0, n_times) ** 1.5
    results = []
    for name, model, c0, desc in examples():
        names = model.reservoir_names  # Reservoir(..., name="hot") labels every output
        _log(f"[{name}] {desc}")
        tic = time.perf_counter()
        resp = jt.response(model, times, method=jt.Pade())
        _log(f"  stage 1 (jt.Pade kernels: {type(resp).__name__})", tic)
        tic = time.perf_counter()
        sol = resp.evaluate(c0)
        np.asarray(sol.heat_current)
        _log("  stage 2 (compile + evaluate the transient)", tic)
        tic = time.perf_counter()
        flow = jt.thermodynamics.uphill_flow(sol)
        sigma, bal = bookkeeping(sol)
        sigma = np.asarray(sigma)
        _log("  uphill measure, entropy production, energy balance (compile + run)", tic)
        jq = np.asarray(sol.heat_current)
        neg = jt.negative_windows(times, jq[:, 0])
        txt = ", ".join(f"[{a:.3f}, {b:.3f}]" for a, b in neg) or "none"
        _log(f"  J^Q_hot < 0 (heat INTO the hot lead) during t in {txt}")
        _log("  " + flow.summary(names))
        if flow.windows:
            a, b = flow.windows[0]
            _log(f"  first uphill window [{a:.6f}, {b:.6f}]: heat moved uphill in it "
                 f"{flow.window_heat[0]:.8f}")
        else:
            tol = 1e-10 * float(np.max(np.abs(jq)))  # round-off at the switch-on t = 0
            both = [(a, b) for a, b in neg
                    if np.all(jq[(times >= a) & (times <= b), 1] <= tol)]
            if both:
                _log("  -> heat goes INTO both leads there (the system discharges): "
                     "not uphill flow")
        _log(f"  entropy production: min {float(np.min(sigma)):.2e} (second law: >= 0), "
             f"at t_max {float(sigma[-1]):.4f}; "
             f"energy-balance residual {float(np.max(np.abs(bal.residual))):.1e}; "
             f"solver error estimate {float(np.max(np.asarray(sol.error_estimate))):.1e}")
        results.append((name, model, c0, desc, sol, flow, sigma, bal))
    tic = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    png = out / "demo_uphill.png"
    _figure(results, names).savefig(png, dpi=120)  # the same names for every example
    import xarray as xr

    nc = out / "demo_results.nc"
    xr.merge([_dataset(nm, m, c, s, f, sg, names) for nm, m, c, _, s, f, sg, _ in results],
             compat="override", combine_attrs="drop_conflicts").assign_attrs(
        units="hbar = k_B = 1; energies in the units of h",
        sign_convention="currents are OUT OF each reservoir",
        uphill_definition="r(t) = max(0, min(-J^Q_hot, J^Q_cold)): heat out of the cold "
        "reservoir and into the hot one at the same time",
    ).to_netcdf(nc, engine="h5netcdf")
    _log(f"wrote {png} and {nc}", tic)
    _log(f"total {time.perf_counter() - t_start:.2f} s")
    return 0


def _figure(results, names):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plot import plot_energy_bookkeeping, plot_uphill

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    for ax, (name, _m, _c, desc, sol, _f, _s, _b) in zip(axes[:2], results, strict=True):
        plot_uphill(sol, ax=ax, reservoir_names=names,
                    title=f"{name}: {desc}\nT_hot = {T_HOT}, T_cold = {T_COLD}")
    name, *_rest, sol, flow, _s, bal = results[-1]
    plot_energy_bookkeeping(sol, bal, ax=axes[2], flow=flow, reservoir_names=names,
                            title=f"{name}: where the energy comes from "
                                  f"(T_hot = {T_HOT}, T_cold = {T_COLD})")
    fig.tight_layout()
    return fig
