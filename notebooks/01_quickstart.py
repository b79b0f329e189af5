# ---
# jupyter:
#   jupytext:
#     formats: py:percent
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
# One fermionic level ε between a hot and a cold Lorentzian lead (ħ = k_B = 1). Currents
# are **out of** each reservoir. Right after the coupling is switched on, heat can flow
# *out of the cold lead and into the hot one* (J^Q_hot < 0); how long and how much depends
# on the initial occupation n0 of the level (Pellitteri, Giovannetti, Cavina,
# arXiv:2602.21190). Set `JAXTRANSPORT_SMOKE=1` for a reduced grid.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import jaxtransport as jt
from jaxtransport.plot import plot_currents, reversal_windows

SMOKE = os.environ.get("JAXTRANSPORT_SMOKE") == "1"
times = np.linspace(0.0, 10.0 if SMOKE else 20.0, 101 if SMOKE else 401)

lead = jt.Lorentzian(gamma=0.5, width=2.0)
model = jt.Model(
    [[1.0]],
    (jt.Reservoir(lead, temperature=1.5, coupling=[1.0]),   # hot
     jt.Reservoir(lead, temperature=0.5, coupling=[1.0])),  # cold
)

# %% [markdown]
# Stage 1 computes the exact response kernels once; stage 2 evaluates any initial state.

# %%
resp = jt.response(model, times)
print("quadrature error estimate:", float(resp.error_estimate))
sol = resp.evaluate(np.array([[1.0]]))  # level initially filled
plot_currents(sol, reservoir_names=["hot", "cold"], title="n0 = 1")
plt.show()
print("J^Q_hot < 0 during", reversal_windows(times, sol.heat_current[:, 0]))
print("steady state (Landauer):", np.asarray(jt.steady_state(model).heat_current))

# %% [markdown]
# The preparation matters: one batched stage-2 call over initial occupations n0.

# %%
n0 = np.linspace(0.0, 1.0, 11)
batch = resp.evaluate(n0[:, None, None])
q_min = np.min(np.asarray(batch.integrated_heat)[:, :, 0], axis=-1)  # most negative Q_hot
plt.plot(n0, q_min, "o-")
plt.xlabel("initial occupation n0")
plt.ylabel("min_t Q_hot(t)  (heat into hot lead < 0)")
plt.show()
