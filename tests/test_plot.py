"""jaxtransport.plot: every plotting function draws a figure on the Agg backend without error,
and the reversal summaries are right on analytic curves."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from jaxtransport import plot  # noqa: E402

T = np.linspace(0.0, 4.0, 81)
J = np.sin(np.pi * T / 2) * -1.0  # negative on (0, 2) and positive on (2, 4)


class _Sol:  # the fields plot_currents reads (a Solution or a MarkovSolution)
    times = T
    heat_current = np.stack([J, -J], axis=-1)


def test_reversal_measures_on_a_sine():
    depth, duration = plot.reversal_measures(T, np.stack([J, 0.5 * J, -J]))
    np.testing.assert_allclose(depth, [1.0, 0.5, 1.0], atol=1e-12)
    np.testing.assert_allclose(duration[:2], 2.0, atol=1e-12)
    np.testing.assert_allclose(duration[2], 2.0, atol=1e-12)  # negative on (2, 4) instead
    d0, t0 = plot.reversal_measures(T, np.abs(J))
    assert d0 == 0.0 and t0 == 0.0
    with pytest.raises(ValueError, match="current must be"):
        plot.reversal_measures(T, J[:-1])


def test_plots_draw_on_agg(tmp_path):
    fig, axes = plt.subplots(2, 3)
    plot.plot_currents(_Sol(), ax=axes[0, 0], reservoir_names=["hot", "cold"])
    plot.plot_traces(T, {"G1": J, "G4": 0.3 * np.ones_like(T)}, ax=axes[0, 1], shade="G1",
                     ylabel="G", styles={"G4": "--"})
    x, y = np.linspace(0, 1, 5), np.linspace(-1, 1, 4)
    v = y[:, None] + 0.2 * x[None, :]
    plot.plot_map(x, y, v, ax=axes[0, 2], label="v", diverging=True)
    plot.plot_map(x + 0.1, y + 2, np.abs(v), ax=axes[1, 0], zero=v, xlog=True, ylog=True)
    plot.plot_map(x[:1], y, v[:, :1])  # a single column
    with pytest.raises(ValueError, match="values must have shape"):
        plot.plot_map(x, y, v.T)
    k = np.stack([T, T**2, -T], axis=-1)
    plot.plot_cumulants(T, k, axes=[axes[1, 1], axes[1, 2], axes[1, 2]], rates=[1.0, 8.0, -1.0],
                        title="cumulants")
    paths = plot.save_figure(fig, tmp_path / "sub" / "figure")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    axs = plot.plot_cumulants(T, k[:, :2])  # own figure
    assert len(axs) == 2
    plt.close("all")


def test_uphill_shading_is_labelled():
    class Sol(_Sol):  # hot = reservoir 0: heat into it on (0, 2) while it leaves the cold one
        temperature = np.array([2.0, 1.0])

    ax = plot.plot_uphill(Sol())
    labels = ax.get_legend_handles_labels()[1]
    assert plot.UPHILL_LABEL in labels and plot.HOT_ONLY_LABEL not in labels

    class Both(Sol):  # heat into both reservoirs: grey "J_hot < 0 only", no uphill entry
        heat_current = np.stack([J, J], axis=-1)

    labels = plot.plot_currents(Both()).get_legend_handles_labels()[1]
    assert plot.HOT_ONLY_LABEL in labels and plot.UPHILL_LABEL not in labels
    plt.close("all")
