"""``ModelParameters``: which model parameters (level energies, hoppings, coupling strengths,
reservoir temperatures and chemical potentials) the optimiser varies jointly with the state,
within bounds, and how a parameter vector is applied to a model."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .drive_parameters import apply_drive
from .parametrisations import parse_bounds

# reservoir values enter stage 2 only; the others need a new stage 1 (a new response)
STAGE2 = ("temperature", "chemical_potential")
STAGE1 = ("level_energies", "hoppings", "coupling_strengths")


def bounds_list(name, spec, length, what):
    if spec is None:
        return None
    spec = list(spec)
    if len(spec) != length:
        raise ValueError(
            f"model_parameters.{name} must list one entry per {what} ({length}), each None "
            f"(fixed) or (lo, hi); got {len(spec)} entries."
        )
    out = []
    for k, b in enumerate(spec):
        if b is None:
            out.append(None)
            continue
        lo, hi = parse_bounds(b, f"model_parameters.{name}[{k}]")
        if name == "temperature" and lo <= 0:
            raise ValueError(
                f"model_parameters.temperature[{k}] bounds must be > 0 (temperatures are "
                f"positive), got ({lo}, {hi})."
            )
        if name == "coupling_strengths" and lo < 0:
            raise ValueError(
                f"model_parameters.coupling_strengths[{k}] bounds must be >= 0 (gamma is a "
                f"rate), got ({lo}, {hi})."
            )
        out.append((lo, hi))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class ModelParameters:
    """Model parameters to optimise jointly with the preparation, each within bounds.

    Each field is None (all fixed) or a list with one entry per reservoir / mode / bond, each
    None (fixed) or ``(lo, hi)`` (trained within the open interval, value = lo + (hi − lo) σ(u)):

    - ``temperature``: T_α (k_B = 1, energy units), lo > 0. Stage 2 only (cheap).
    - ``chemical_potential``: μ_α (energy units). Stage 2 only.
    - ``level_energies``: h_ii (energy units). Re-runs stage 1 each step.
    - ``hoppings``: nearest-neighbour h_{k,k+1} = x e^{iφ} (φ the initial phase; h_{k+1,k} its
      conjugate), one entry per bond (n − 1). Re-runs stage 1.
    - ``coupling_strengths``: γ of reservoir α's (single) Lorentzian density, lo ≥ 0. Re-runs
      stage 1.

    Start 0 begins at the model's own values (which must lie strictly inside the bounds);
    the other starts begin at uniformly random values inside the bounds.
    """

    temperature: Sequence | None = None
    chemical_potential: Sequence | None = None
    level_energies: Sequence | None = None
    hoppings: Sequence | None = None
    coupling_strengths: Sequence | None = None

    def entries(self, model):
        """[(kind, index, lo, hi, initial value)] of the trained parameters (validated)."""
        n, m = model.n_modes, model.n_reservoirs
        lengths = {"temperature": (m, "reservoir"), "chemical_potential": (m, "reservoir"),
                   "level_energies": (n, "mode"), "hoppings": (max(n - 1, 0), "bond"),
                   "coupling_strengths": (m, "reservoir")}
        h = np.asarray(model.hamiltonian)
        out = []
        for kind in STAGE2 + STAGE1:
            spec = bounds_list(kind, getattr(self, kind), *lengths[kind])
            if spec is None:
                continue
            for k, b in enumerate(spec):
                if b is None:
                    continue
                if kind == "temperature":
                    x0 = float(model.temperatures[k])
                elif kind == "chemical_potential":
                    x0 = float(model.chemical_potentials[k])
                elif kind == "level_energies":
                    x0 = float(h[k, k].real)
                elif kind == "hoppings":
                    x0 = float(np.abs(h[k, k + 1]) * np.sign(h[k, k + 1].real or 1.0))
                else:
                    terms = model.reservoirs[k].terms
                    dens = terms[0][0]
                    if len(terms) != 1 or not hasattr(dens, "gamma") or not hasattr(dens, "width"):
                        raise ValueError(
                            f"model_parameters.coupling_strengths[{k}]: reservoir {k} must have "
                            "a single Lorentzian spectral density to train its gamma."
                        )
                    x0 = float(dens.gamma)
                if not (b[0] < x0 < b[1]):
                    raise ValueError(
                        f"model_parameters.{kind}[{k}]: the model's value {x0:.6g} must lie "
                        f"strictly inside the bounds ({b[0]:.6g}, {b[1]:.6g})."
                    )
                out.append((kind, k, b[0], b[1], x0))
        return out

    def names(self, model):
        return [f"{kind}[{k}]" for kind, k, *_ in self.entries(model)]


def apply_model(model, entries, x):
    """(model with stage-1 parameters set, temperature (M,), chemical potential (M,))."""
    temp = jnp.asarray(model.temperatures, jnp.float64)
    mu = jnp.asarray(model.chemical_potentials, jnp.float64)
    h = model.hamiltonian
    h0 = np.asarray(h)
    stage1 = False
    new_gamma = {}
    for j, (kind, k, *_rest) in enumerate(entries):
        v = x[j]
        if kind == "drive":  # set by apply_drive below
            continue
        if kind == "temperature":
            temp = temp.at[k].set(v)
        elif kind == "chemical_potential":
            mu = mu.at[k].set(v)
        elif kind == "level_energies":
            h = h.at[k, k].set(v.astype(h.dtype))
            stage1 = True
        elif kind == "hoppings":
            phase = h0[k, k + 1] / abs(h0[k, k + 1]) if abs(h0[k, k + 1]) > 0 else 1.0
            phase = phase * np.sign(phase.real or 1.0) if np.iscomplexobj(h0) else 1.0
            if np.iscomplexobj(h0):
                val = v * phase
                h = h.at[k, k + 1].set(val).at[k + 1, k].set(jnp.conj(val))
            else:
                h = h.at[k, k + 1].set(v).at[k + 1, k].set(v)
            stage1 = True
        else:
            new_gamma[k] = v
            stage1 = True
    if stage1:
        model = eqx.tree_at(lambda mm: mm.hamiltonian, model, h)
        for k, g in new_gamma.items():
            model = eqx.tree_at(lambda mm, k=k: mm.reservoirs[k].terms[0][0].gamma, model, g)
    if any(e[0] == "drive" for e in entries):
        model = apply_drive(model, entries, x)
    return model, temp, mu
