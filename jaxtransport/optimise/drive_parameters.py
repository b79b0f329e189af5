"""``DriveParameters``: which parameters of a model's ``jt.Drive`` (the array fields of its
amplitudes: a ``jt.Sine``'s amplitude, frequency, phase or offset, a ``jt.Pulse``'s centre,
a ``jt.PiecewiseLinear``'s values, ...) the optimiser varies, each within box bounds, and how
a parameter vector is applied to the model (a sibling of ``ModelParameters``).

Units ħ = k_B = 1: each parameter in its amplitude's units (energy for a Hamiltonian term's
amplitude or a bias, dimensionless for a coupling scale s_α, 1/h for times such as a pulse
centre, energy for an angular frequency)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import equinox as eqx
import jax
import numpy as np

from ..drive import AbstractAmplitude, PiecewiseLinear
from .parametrisations import parse_bounds

GROUPS = ("terms", "coupling", "bias")


def _bounds(spec, size, where):
    """[(lo, hi) or None] per element of a field of ``size`` elements."""
    if isinstance(spec, tuple | list) and len(spec) == 2 and all(
            isinstance(x, int | float | np.floating | np.integer) for x in spec):
        spec = [tuple(spec)] * size
    spec = list(spec)
    if len(spec) != size:
        raise ValueError(f"drive_parameters.{where}: give one (lo, hi) for all {size} "
                         f"element(s) or a list of {size} entries (lo, hi) or None; got "
                         f"{len(spec)} entries.")
    out = []
    for e, b in enumerate(spec):
        if b is None:
            out.append(None)
            continue
        out.append(parse_bounds(b, f"drive_parameters.{where}[{e}]"))
    return out


@dataclasses.dataclass(frozen=True)
class DriveParameters:
    """Drive parameters to optimise (``jt.optimise_preparation(..., drive_parameters=)``),
    each within box bounds, value = lo + (hi − lo) σ(u) (the parametrisation of
    ``ModelParameters``).

    Each of ``terms`` (keyed by the term's index k in ``Drive(terms)``), ``coupling`` and
    ``bias`` (keyed by reservoir index or name) maps to ``{field: bounds}``: ``field`` an
    array field of that amplitude (``"amplitude"``, ``"frequency"``, ``"phase"``,
    ``"offset"`` of ``jt.Sine``; ``"center"``, ``"width"`` of ``jt.Pulse``; ``"values"`` of
    ``jt.PiecewiseLinear``; ...), ``bounds`` one pair ``(lo, hi)`` for every element or a list
    with one entry ``(lo, hi)`` or ``None`` (fixed) per element. ``PiecewiseLinear`` knots are
    not trainable (box bounds cannot keep them increasing). Units: each parameter in its
    amplitude's units (energy for Hamiltonian terms, biases and angular frequencies,
    dimensionless coupling scales, 1/h for times; ħ = 1).

    Start 0 of the optimiser begins at the model's own values (which must lie strictly
    inside the bounds); the other starts at uniformly random values inside the bounds.

    Examples:
        >>> import numpy as np, jaxtransport as jt
        >>> lead = jt.Lorentzian(0.3, 2.0)
        >>> model = jt.Model([[0.5]], (jt.Reservoir(lead, temperature=1.0, coupling=[1.0]),),
        ...                  drive=jt.Drive([(np.eye(1), jt.Sine(0.2, 1.0))]))
        >>> jt.DriveParameters(terms={0: {"amplitude": (0.0, 1.0)}}).names(model)
        ['drive.terms[0].amplitude']
    """

    terms: Mapping | None = None
    coupling: Mapping | None = None
    bias: Mapping | None = None

    def entries(self, model):
        """[("drive", (group, k, field, element), lo, hi, initial value)] (validated)."""
        drive = getattr(model, "drive", None)
        if drive is None and any(getattr(self, g) for g in GROUPS):
            raise ValueError("drive_parameters need a driven model (jt.Model(..., drive=...)).")
        out = []
        for group in GROUPS:
            spec = getattr(self, group)
            if not spec:
                continue
            if not isinstance(spec, Mapping):
                raise ValueError(f"drive_parameters.{group} must be a mapping index → "
                                 f"{{field: bounds}}, got {type(spec).__name__}.")
            amps = drive.amplitudes if group == "terms" else getattr(drive, group)
            for key, fields in spec.items():
                k = _index(key, group, len(amps), model)
                amp = amps[k]
                where = f"{group}[{key!r}]"
                if not isinstance(amp, AbstractAmplitude):
                    raise ValueError(f"drive_parameters.{where}: the model's drive has no "
                                     f"{group} amplitude there.")
                if not isinstance(fields, Mapping):
                    raise ValueError(f"drive_parameters.{where} must be a mapping field → "
                                     f"bounds, got {type(fields).__name__}.")
                for field, b in fields.items():
                    value = _field(amp, field, where)
                    flat = np.asarray(value, float).reshape(-1)
                    for e, bb in enumerate(_bounds(b, flat.size, f"{where}.{field}")):
                        if bb is None:
                            continue
                        if not bb[0] < flat[e] < bb[1]:
                            raise ValueError(
                                f"drive_parameters.{where}.{field}: the model's value "
                                f"{flat[e]:.6g} must lie strictly inside the bounds "
                                f"({bb[0]:.6g}, {bb[1]:.6g}).")
                        out.append(("drive", (group, k, field, e if value.ndim else None),
                                    bb[0], bb[1], float(flat[e])))
        return out

    def names(self, model):
        return [entry_name(where) for _kind, where, *_ in self.entries(model)]


def entry_name(where) -> str:
    group, k, field, e = where
    return f"drive.{group}[{k}].{field}" + ("" if e is None else f"[{e}]")


def _index(key, group, length, model):
    if group != "terms" and isinstance(key, str):
        names = list(model.reservoir_names)
        if key not in names:
            raise ValueError(f"drive_parameters.{group}: unknown reservoir {key!r}; the model's "
                             f"reservoirs are {names}.")
        return names.index(key)
    if not (isinstance(key, int | np.integer) and 0 <= int(key) < length):
        raise ValueError(f"drive_parameters.{group}: index {key!r} out of range (0…{length - 1}).")
    return int(key)


def _field(amp, field, where):
    value = getattr(amp, field, None)
    if isinstance(amp, PiecewiseLinear) and field == "knots":
        raise ValueError(f"drive_parameters.{where}: PiecewiseLinear knots are not trainable "
                         "(box bounds cannot keep them increasing); train 'values'.")
    fields = [f.name for f in dataclasses.fields(amp)
              if isinstance(getattr(amp, f.name), jax.Array)]
    if not isinstance(value, jax.Array) or field not in fields:
        raise ValueError(f"drive_parameters.{where}: {type(amp).__name__} has no trainable "
                         f"array field {field!r}; its fields are {fields}.")
    return value


def apply_drive(model, entries, x):
    """``model`` with the drive parameters of ``entries`` (kind "drive") set to the values
    ``x`` (aligned with ``entries``; other kinds are skipped)."""
    updates = {}
    for j, (kind, where, *_rest) in enumerate(entries):
        if kind != "drive":
            continue
        group, k, field, e = where
        updates.setdefault((group, k, field), []).append((e, x[j]))
    for (group, k, field), vals in updates.items():
        def get(m, group=group, k=k, field=field):
            amps = m.drive.amplitudes if group == "terms" else getattr(m.drive, group)
            return getattr(amps[k], field)

        new = get(model)
        for e, v in vals:
            new = v.astype(new.dtype) if e is None else new.at[e].set(v)
        model = eqx.tree_at(get, model, new)
    return model
