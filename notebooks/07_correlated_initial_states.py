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
# # Correlated initial states: product vs stationary preparations
#
# **What.** Every other notebook starts from a *product* state: the system prepared alone,
# the reservoirs thermal, the coupling switched on at t = 0. Here the same post-quench model
# starts instead from `jt.StationaryState(premodel)`: the exact stationary state of a
# pre-quench model (system + reservoirs, with all their correlations), after which the
# Hamiltonian changes at t = 0. Units ħ = k_B = 1; every current is **out of** its
# reservoir; heat moves *uphill* when it leaves the colder reservoir and enters the hotter
# one at the same time, at the rate r(t) = max(0, min(−J^Q_hot, J^Q_cold)) (`jt.uphill_flow`).
#
# **Questions answered here, all computed below.**
# 1. A level hybridised with a hot and a cold lead is pushed through the Fermi energy: how do
#    the heat currents differ from a product preparation with the same level occupation?
# 2. Two sides, each pre-equilibrated with its own reservoir, are connected by a hopping: how
#    does that compare with connecting isolated, thermal sites to the reservoirs?
# 3. How much energy sits in the system–reservoir correlations at t = 0, and where does the
#    early reversal come from?

# %%
import os

import jax

jax.config.update("jax_enable_x64", True)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import jaxtransport as jt  # noqa: E402

SMOKE = os.environ.get("JAXTRANSPORT_SMOKE") == "1"
T_HOT, T_COLD = 1.5, 0.5
LEAD = jt.CutoffLorentzian(gamma=0.5, width=2.0, cutoff=8.0)
# graded towards t = 0, where the currents change fastest
times = 6.0 * np.linspace(0.0, 1.0, 25 if SMOKE else 121) ** 2
method = jt.Continuum(tolerance=1e-6)


def model(h, v_hot, v_cold):
    return jt.Model(np.asarray(h, float), (
        jt.Reservoir(LEAD, temperature=T_HOT, coupling=np.asarray(v_hot, float)),
        jt.Reservoir(LEAD, temperature=T_COLD, coupling=np.asarray(v_cold, float))))


def summary(name, sol):
    flow = jt.uphill_flow(sol)
    e_corr = float(np.sum(sol.coupling_energy[0]))
    print(f"{name:>34}: <H_I>(0) = {e_corr:+.4f}, uphill heat Q_up = {flow.heat:.2e}, "
          f"windows {[(round(a, 2), round(b, 2)) for a, b in flow.windows]}, "
          f"min J^Q_hot = {float(np.min(sol.heat_current[:, 0])):+.4f}")
    return flow


def plot_pair(title, product, correlated):
    """Heat currents and the uphill rate r(t) of both preparations side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, (name, s) in zip(axes, {"product": product, "correlated": correlated}.items(),
                             strict=True):
        ax.plot(times, s.heat_current[:, 0], label="J^Q hot")
        ax.plot(times, s.heat_current[:, 1], label="J^Q cold")
        ax.plot(times, jt.uphill_rate(s.heat_current, s.temperature), "k--",
                label="uphill r(t)")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set(title=f"{title}: {name}", xlabel="t")
    axes[0].set_ylabel("heat current out of the lead")
    axes[0].legend()
    plt.show()


def first_law_error(sol):
    lhs = np.sum(sol.energy_current, axis=-1)
    rhs = sol.system_energy_derivative + np.sum(sol.coupling_energy_derivative, axis=-1)
    return float(np.max(np.abs(lhs - rhs)))


# %% [markdown]
# ## 1. A level pushed through the Fermi energy after hybridising
#
# Before t = 0 the level sits at ε₀ = +1 (above μ = 0), hybridised with both leads long
# enough to reach their non-equilibrium steady state. At t = 0 it is pushed to ε₁ = −1.
# The product preparation uses the *same* level occupation (that of the stationary state)
# but no correlations with the leads, and switches the coupling on at t = 0.

# %%
pre1 = model([[1.0]], [1.0], [1.0])
post1 = model([[-1.0]], [1.0], [1.0])
corr1 = jt.solve(post1, jt.StationaryState(pre1), times, method=method)
n_ss = np.asarray(corr1.correlation[0].real)  # the stationary level occupation at t = 0
prod1 = jt.solve(post1, n_ss, times, method=method)
print(f"stationary occupation of the level before the quench: {n_ss[0, 0]:.4f}")
flows1 = {"product (same occupation)": summary("product (same occupation)", prod1),
          "stationary state of ε₀ = +1": summary("stationary state of ε₀ = +1", corr1)}
plot_pair("level pushed through μ", prod1, corr1)
assert abs(float(np.sum(prod1.coupling_energy[0]))) < 1e-6  # product: no coupling energy
assert float(np.sum(corr1.coupling_energy[0])) < -0.05  # correlated: bound energy at t = 0
assert first_law_error(corr1) < 1e-6 and first_law_error(prod1) < 1e-6

# %% [markdown]
# **Where the reversal comes from.** In the product preparation the coupling is switched on
# at t = 0: the coupling energy ⟨H_I⟩ drops from 0 to its negative bound value, and that
# energy is pushed into *both* leads at early times (J^Q < 0 for hot and cold alike). In the
# correlated preparation the coupling energy is already formed at t = 0 (the printed
# ⟨H_I⟩(0)); what drives the transient is only the level shift, which fills the level from
# the leads. The printed minima show the consequence: the heat current out of the hot lead
# dips much less below zero from the correlated start, so most of the product-state
# "reversal" is the energy of forming the system–lead correlations. The uphill heat Q_up
# printed above separates genuine cold-to-hot flow from such a discharge into both leads
# (r = 0 whenever both heat currents are negative).

# %%
assert float(np.min(corr1.heat_current[:, 0])) > float(np.min(prod1.heat_current[:, 0]))

# %% [markdown]
# ## 2. Two sides pre-equilibrated with their own reservoirs, then connected
#
# Site 1 couples to the hot lead, site 2 to the cold lead. Before t = 0 there is no hopping:
# each site is in equilibrium with its own lead (correlated with it). At t = 0 a hopping
# τ = 0.5 connects them. The product preparation starts each isolated site in the Gibbs
# state of its own lead's temperature, uncorrelated, and switches on couplings and hopping
# together.

# %%
h_pre, h_post = [[0.5, 0.0], [0.0, 0.5]], [[0.5, 0.5], [0.5, 0.5]]
pre2 = model(h_pre, [1.0, 0.0], [0.0, 1.0])
post2 = model(h_post, [1.0, 0.0], [0.0, 1.0])
corr2 = jt.solve(post2, jt.StationaryState(pre2), times, method=method)
occ = [float(jt.occupation(0.5, T, 0.0)) for T in (T_HOT, T_COLD)]
prod2 = jt.solve(post2, np.diag(occ), times, method=method)
flows2 = {"product (isolated thermal sites)": summary("product (isolated thermal sites)", prod2),
          "each side stationary with its lead": summary("each side stationary with its lead",
                                                        corr2)}
plot_pair("two sides connected", prod2, corr2)
# at t = 0 each side is in equilibrium with its own lead: nothing flows yet
assert float(np.max(np.abs(corr2.heat_current[0]))) < 1e-6
assert first_law_error(corr2) < 1e-6
# the dip of J^Q_hot below zero is (almost) all the coupling switch-on of the product start
assert float(np.min(corr2.heat_current[:, 0])) > 0.5 * float(np.min(prod2.heat_current[:, 0]))

# %% [markdown]
# ## 3. Energy in the correlations and the steady state
#
# The energy bound in the system–lead correlations at t = 0 is Σ_α ⟨H_I^α⟩(0) (zero for a
# product state). Both preparations of each model relax to the same post-quench steady state
# (Landauer–Büttiker): the preparation changes only the transient.

# %%
for name, post, c, p in (("level through μ", post1, corr1, prod1),
                         ("two sides connected", post2, corr2, prod2)):
    ss = jt.steady_state(post)
    print(f"{name}: energy in correlations at t = 0: {float(np.sum(c.coupling_energy[0])):+.4f}; "
          f"J^Q_hot(t_max) correlated {float(c.heat_current[-1, 0]):+.4f}, product "
          f"{float(p.heat_current[-1, 0]):+.4f}, steady state {float(ss.heat_current[0]):+.4f}")

# %% [markdown]
# **Entropy.** With a correlated start, the usual entropy production
# Σ(t) = ΔS(ρ_S) − Σ_α Q_α/T_α can be transiently negative, by at most the initial
# information D₀ = D(ρ(0) ‖ ρ_S(0) ⊗ Π_α ρ_α^Gibbs) (mutual information plus the leads'
# deviation from Gibbs); `jt.thermodynamics.correlated_entropy_production` reports
# Σ(t) + D₀ ≥ 0, with D₀ from `StationaryState.initial_information` on finite modes
# (docs/theory.md, "Correlated initial states").
