# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Quickstart: transient heat reversal of a single level
#
# **What.** One fermionic level ε between a hot and a cold Lorentzian lead, coupled at t = 0
# (product initial state ρ_S(0) ⊗ thermal leads). Units ħ = k_B = 1. Every current is
# **out of** its reservoir: J^Q_α = J^E_α − μ_α J^N_α with J^E_α = −d⟨H_α⟩/dt.
#
# **Why.** Right after the coupling is switched on, heat can flow *out of the cold lead and
# into the hot one* (J^Q_hot < 0); how long and how much depends on the initial occupation
# n0 of the level (Pellitteri, Giovannetti, Cavina, arXiv:2602.21190; exact method of
# D'Abbruzzo, Giovannetti, Cavina, arXiv:2502.14364).
#
# **What to look for.** The shaded window where J^Q_hot < 0, its dependence on n0, the
# approach to the Landauer steady state, and the first law: the energy that leaves the
# reservoirs goes into the system and into the coupling energy ⟨H_I⟩.
#
# Set `JAXTRANSPORT_SMOKE=1` for a reduced grid (used in CI).

# %%
import os

import jax

jax.config.update("jax_enable_x64", True)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import jaxtransport as jt  # noqa: E402
from jaxtransport import thermodynamics as th  # noqa: E402
from jaxtransport.plot import plot_currents, plot_traces, reversal_windows  # noqa: E402

SMOKE = os.environ.get("JAXTRANSPORT_SMOKE") == "1"
# graded towards t = 0, where the currents vary fastest (J^Q ~ t ln t right after the quench)
times = (10.0 if SMOKE else 20.0) * np.linspace(0.0, 1.0, 101 if SMOKE else 401) ** 2

lead = jt.Lorentzian(gamma=0.5, width=2.0)
model = jt.Model(
    [[1.0]],
    (jt.Reservoir(lead, temperature=1.5, coupling=[1.0]),   # hot
     jt.Reservoir(lead, temperature=0.5, coupling=[1.0])),  # cold
)
print(f"level ε = {float(model.hamiltonian[0, 0].real)}, T_hot = {float(model.temperatures[0])},"
      f" T_cold = {float(model.temperatures[1])}")

# %% [markdown]
# Stage 1 (`jt.response`) computes the exact response kernels once; stage 2 (`evaluate`)
# gives the observables for any initial state C0 (here the 1×1 matrix n0) and any
# temperatures, cheaply. With no `method`, `jt.response` picks the fastest exact method for
# the model (here Lorentzian leads, a sum of poles: the Padé closed form `jt.Pade`) and
# records its choice (`resp.method`) and, on each result, its error estimate
# (`sol.error_estimate`, of the currents); `method=jt.Continuum()` forces the frequency
# quadrature, which gives the same currents (slower; needed for band edges and tabulated
# densities). An empty (n0 = 0) and a filled (n0 = 1) level:

# %%
resp = jt.response(model, times)  # kernels for any T, μ and C0
empty = resp.evaluate(np.array([[0.0]]))
sol = resp.evaluate(np.array([[1.0]]))  # level initially filled
print(f"method: {resp.method}; error estimate: {float(np.max(sol.error_estimate)):.1e}")
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
for ax, s, name in ((axes[0], empty, "n0 = 0"), (axes[1], sol, "n0 = 1")):
    plot_currents(s, ax=ax, reservoir_names=["hot", "cold"],
                  title=f"{name} (shaded: J^Q_hot < 0)")
plt.show()
print("n0 = 0: J^Q_hot < 0 during",
      [(round(a, 3), round(b, 3)) for a, b in reversal_windows(times, empty.heat_current[:, 0])])
windows = reversal_windows(times, sol.heat_current[:, 0])
landauer = np.asarray(jt.steady_state(model).heat_current)
print("n0 = 1: J^Q_hot < 0 during", [(round(a, 3), round(b, 3)) for a, b in windows])
print(f"J^Q at t = {times[-1]:g}: {np.asarray(sol.heat_current[-1])}; Landauer: {landauer}")
assert windows, "the filled level must show a reversal window"

# %% [markdown]
# **First law.** ΔE_S + Σ_α ⟨H_I^α⟩ + Σ_α Δ⟨H_α⟩ = 0 at every time: the energy leaving the
# reservoirs (Σ_α Q_α at μ = 0) is stored in the system and in the coupling. The coupling
# energy turns negative after the switch-on, which is why energy can leave *both* leads at
# early times.

# %%
bal = th.energy_balance(sol)
plot_traces(times, {
    "ΔE_S (system)": bal.system_energy_change,
    "Σ_α ⟨H_I^α⟩ (coupling)": np.sum(bal.coupling_energy, axis=-1),
    "Σ_α Q_α (heat out of the leads)": np.sum(bal.heat, axis=-1),
}, ylabel="energy  [units of h]", title="energy bookkeeping, n0 = 1")
plt.show()
residual = float(np.max(np.abs(bal.residual)))
print(f"max |first-law residual| = {residual:.2e} (time-quadrature error of Q)")
assert residual < 1e-5

# %% [markdown]
# The preparation matters: one batched stage-2 call over initial occupations n0 gives the
# most negative integrated heat out of the hot lead, min_t Q_hot(t).

# %%
n0 = np.linspace(0.0, 1.0, 11)
batch = resp.evaluate(n0[:, None, None])
q_min = np.min(np.asarray(batch.integrated_heat)[:, :, 0], axis=-1)  # most negative Q_hot
plt.plot(n0, q_min, "o-")
plt.xlabel("initial occupation n0")
plt.ylabel("min_t Q_hot(t)  [energy]  (< 0: heat into the hot lead)")
plt.show()
print(f"min_t Q_hot ranges from {q_min.min():.4f} (n0 = {n0[np.argmin(q_min)]:g}) to "
      f"{q_min.max():.4f} (n0 = {n0[np.argmax(q_min)]:g})")
assert q_min.max() - q_min.min() > 1e-3
