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
# # Bosons: phonon/photon heat transport through coupled oscillators
#
# **What.** Two coupled oscillators (frequencies ω₁, ω₂, hopping g) exchange quanta with a hot
# and a cold **Ohmic** bath, g(ω) = α ω_c (ω/ω_c)^s e^{−ω/ω_c} on ω > 0 (number-conserving,
# rotating-wave coupling). Units ħ = k_B = 1; currents are **out of** each reservoir,
# J^Q_α = J^E_α − μ_α J^N_α (here μ = 0).
#
# **Formula.** The same exact first-moment solution as for fermions (docs/theory.md) with Bose
# occupations n_B(ω) = 1/(e^{(ω−μ)/T} − 1):
# C(t) = G C₀ G† + Σ_α ∫dω/2π n_α(ω) A(ω,t) Γ_α(ω) A(ω,t)†. The Ohmic density is not a sum of
# Lorentzians: `jt.Continuum` fits its memory kernel on [0, t_max] by exponentials (error
# reported) and keeps the exact g(ω) in the frequency integrals. The long-time limit is the
# bosonic Landauer formula J^Q_hot = ∫dω/2π ω T(ω)[n_hot − n_cold].
#
# **Why.** Pellitteri, Giovannetti, Cavina (arXiv:2602.21190) show a transient *negative heat
# conductance* (heat flowing out of the cold bath into the hot one) for fermions; their method
# (D'Abbruzzo, Giovannetti, Cavina, arXiv:2502.14364) applies to bosons as well. Does the
# reversal occur for bosons, and for which preparations?
#
# **What to look for.** The hot bath's heat current for several initial occupations of the
# oscillators; where heat leaves the cold bath and enters the hot one at the same time; the
# map of the reversal strength over (n₁, n₂); the approach to Landauer.

# %%
import os

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import jaxtransport as jt  # noqa: E402
from jaxtransport.plot import plot_map, plot_traces  # noqa: E402

SMOKE = os.environ.get("JAXTRANSPORT_SMOKE") == "1"
W1, W2, HOP, T_HOT, T_COLD = 1.0, 1.2, 0.25, 2.0, 0.5
bath = jt.Ohmic(alpha=0.15, cutoff=3.0)
model = jt.Model(
    [[W1, HOP], [HOP, W2]],
    (jt.Reservoir(bath, temperature=T_HOT, coupling=[1.0, 0.0]),
     jt.Reservoir(bath, temperature=T_COLD, coupling=[0.0, 1.0])),
    statistics="boson",
)
times = np.linspace(0.0, 8.0 if SMOKE else 30.0, 33 if SMOKE else 151)
resp = jt.response(model, times, method=jt.Continuum(tolerance=1e-6))
print(f"Continuum stage 1 done; error estimate {float(resp.error_estimate):.2e}")

# %% [markdown]
# ## Heat currents for a few preparations
# Stage 2 evaluates any initial correlation matrix C₀ (diagonal: Fock-state mean occupations
# or thermal states of the oscillators) as a cheap contraction.

# %%
preps = {
    "vacuum (0, 0)": [0.0, 0.0],
    "cold oscillator excited (0, 3)": [0.0, 3.0],
    "hot oscillator excited (3, 0)": [3.0, 0.0],
    "both excited (3, 3)": [3.0, 3.0],
}
sols = {k: resp.evaluate(jt.GaussianState.from_occupations(v, statistics="boson"))
        for k, v in preps.items()}
plot_traces(times, {k: np.asarray(s.heat_current[:, 0]) for k, s in sols.items()},
            ylabel="$J^Q_{hot}$ out of the hot bath  [energy/$\\hbar$]",
            title="hot bath's heat current (negative: heat flows into the hot bath)")
plt.show()
# J^Q_hot < 0 alone can be the excited system discharging into the hot bath. The reversal
# proper (heat out of the cold bath *into* the hot one) needs J^Q_hot < 0 < J^Q_cold at the same
# time: its strength is r(t) = min(−J^Q_hot, J^Q_cold), and a reversal occurs where r > 0.


def strength(heat):
    return jnp.minimum(-heat[..., 0], heat[..., 1])


for k, s in sols.items():
    r = float(jnp.max(strength(s.heat_current)))
    print(f"{k:32s} min_t J^Q_hot = {float(np.min(s.heat_current[:, 0])):+.4f}, "
          f"max_t r = {r:+.4f}  ({'reversal' if r > 0 else 'no reversal'})")

# %% [markdown]
# ## Where does the reversal occur? Map over the initial occupations (n₁, n₂)
# The largest reversal strength max_t r(t) for diagonal preparations C₀ = diag(n₁, n₂), all
# evaluated from the one stage-1 `Response` (vmapped contractions).

# %%
n_grid = np.linspace(0.0, 4.0, 9 if SMOKE else 41)
c0s = jnp.asarray([[np.diag([a, b]) for b in n_grid] for a in n_grid])
best = np.asarray(jax.vmap(jax.vmap(
    lambda c: jnp.max(strength(resp.evaluate(c).heat_current))))(c0s))
plot_map(n_grid, n_grid, best.T, xlabel="$n_1$ (hot side)", ylabel="$n_2$ (cold side)",
         label="max$_t$ min($-J^Q_{hot}$, $J^Q_{cold}$)", zero=0.0)
plt.show()
i, j = np.unravel_index(best.argmax(), best.shape)
print(f"fraction of the (n1, n2) grid with a transient reversal: {float(np.mean(best > 0)):.2f}")
print(f"strongest reversal on the grid: {best.max():+.4f} at n1 = {n_grid[i]:.2f}, "
      f"n2 = {n_grid[j]:.2f}; vacuum: {best[0, 0]:+.4f}")

# %% [markdown]
# ## Long times: the bosonic Landauer current
# The preparation is forgotten; the exact transient approaches ∫dω/2π ω T(ω)[n_hot − n_cold].

# %%
ss = jt.steady_state(model)
fig, ax = plt.subplots(figsize=(6.4, 4.0))
for k, s in sols.items():
    ax.plot(times, s.heat_current[:, 0], label=k)
ax.axhline(float(ss.heat_current[0]), color="k", ls="--", label="Landauer (steady state)")
ax.set_xlabel("time $t$  [$\\hbar$/energy]")
ax.set_ylabel("$J^Q_{hot}$  [energy/$\\hbar$]")
ax.legend(fontsize=8)
plt.show()
last = {k: float(s.heat_current[-1, 0]) for k, s in sols.items()}
print(f"Landauer J^Q_hot = {float(ss.heat_current[0]):.5f}; at t = {times[-1]:g}: "
      + ", ".join(f"{v:.5f}" for v in last.values()))
