#!/usr/bin/python3
"""Plots lumac result files (HDF5) for a paper.

    /usr/bin/python3 scripts/plot.py FILE.h5 [--out-dir DIR] [--prefix NAME] [--x KEY]
                                     [--format png|pdf|svg] [--dpi N] [--window T0:T1] [--list]

Sweep files (kind lumac-sweep, docs/sweep_file.md) give
  <prefix>_accuracy.<fmt>   accuracy against the x key (mean over the seeds, their spread as a
                            band), with the clean accuracy and the -1 and -2 point lines
                            (network sweeps)
  <prefix>_enob.<fmt>       ENOB per layer against the x key, with the Monte Carlo and
                            time-domain ENOBs of circuit sweeps that have them
  <prefix>_energy.<fmt>     optical (detected, laser) and total energy per MAC, in aJ, fJ or
                            pJ as the values need
  <prefix>_breakdown.<fmt>  each component's share of the energy per MAC at every point
                            (stacked, linear, 100%), next to the total
  <prefix>_map.<fmt>        two-axis sweeps: the accuracy (or ENOB) over the grid as a heat map
Trace files (kind lumac-trace, docs/trace_file.md) give <prefix>_trace.<fmt>: the laser power,
drives and modulator outputs, optical powers, diode currents, and the integrator charge in
units of the dot product y, with the integration windows shaded; --window T0:T1 (seconds)
shows part of it.
--x KEY chooses the swept key on the x axis (default the first); the other keys become one line
per combination. Every figure has a title line (model or fan-in, noise mode, seeds) and axes in
words with units. Run with Debian's /usr/bin/python3 (python3-h5py, python3-matplotlib,
python3-numpy).
"""
import argparse
import itertools
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

LIST = False
FORMAT = "png"
DPI = 150

# Config keys in words; others are shown as the key itself.
KEY_WORDS = {
    "laser.power_W": "laser power",
    "laser.wavelength_m": "wavelength",
    "laser.rin_dB_per_Hz": "laser RIN",
    "adc.bits": "ADC resolution",
    "dac.bits": "DAC resolution",
    "system.repeats": "repeats K",
    "system.averaging": "averaging",
    "system.encoding": "encoding",
    "system.fan_out": "fan-out M",
    "system.symbol_rate_Hz": "symbol rate",
    "modulator.bandwidth_Hz": "modulator bandwidth",
    "modulator.weight_noise_std": "weight noise (std)",
    "modulator.extinction_ratio_dB": "extinction ratio",
    "detector.bandwidth_Hz": "detector bandwidth",
    "detector.amplifier_noise_A_per_rtHz": "amplifier noise",
    "detector.quantum_efficiency": "quantum efficiency",
    "detector.integrator_capacitance_F": "integrator capacitance",
    "system.batch": "rows B sharing each weight",
}
PREFIXES = [(1e-18, "a"), (1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "u"), (1e-3, "m"),
            (1.0, ""), (1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T")]


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def si_scale(values, unit):
    """(factor, unit) that shows `values` (in `unit`) with an SI prefix, e.g. W -> mW."""
    if unit in ("W", "Hz", "J", "A/sqrt(Hz)", "s", "m", "F", "V"):
        finite = np.abs(np.asarray(values, dtype=float))
        finite = finite[np.isfinite(finite) & (finite > 0)]
        if finite.size:
            top = finite.max()
            factor, prefix = max(((f, p) for f, p in PREFIXES if f <= top), default=(1.0, ""))
            return factor, prefix + unit
    return 1.0, unit


def energy_scale(values_aJ):
    """(divisor, unit) for energies given in aJ: aJ, fJ, pJ or nJ."""
    finite = np.asarray(values_aJ, dtype=float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    top = finite.max() if finite.size else 1.0
    for divisor, unit in ((1e9, "nJ"), (1e6, "pJ"), (1e3, "fJ")):
        if top >= divisor:
            return divisor, unit
    return 1.0, "aJ"


def key_label(key, unit):
    unit = text(unit)
    words = KEY_WORDS.get(key, key)
    return f"{words} [{unit}]" if unit and unit != "1" else words


def axis_labels(ds):
    """The value names of a boolean or choice axis (its values are indices), else None."""
    return [text(v) for v in ds.attrs["labels"]] if "labels" in ds.attrs else None


def value_name(ds, value, with_unit=False):
    """A value of an axis as text: its name, or the number (scaled, with its unit)."""
    names = axis_labels(ds)
    if names:
        return names[int(value)]
    if not with_unit:
        return f"{value:.4g}"
    factor, unit = si_scale(ds[()], text(ds.attrs.get("units", "")))
    return f"{value / factor:.4g} {unit}" if unit and unit != "1" else f"{value:.4g}"


def ordered_axes(f, x_key):
    axes = [text(a) for a in f.attrs["axes"]]
    if x_key:
        if x_key not in axes:
            sys.exit(f"plot.py: error: --x {x_key}: the sweep's axes are {', '.join(axes)}")
        axes.remove(x_key)
        axes.insert(0, x_key)
    return axes


def series(f, x_key):
    """Yields (label, point indices along the x axis) for every combination of the others."""
    file_axes = [text(a) for a in f.attrs["axes"]]
    axes = ordered_axes(f, x_key)
    shape = [len(f["axes"][a][()]) for a in file_axes]
    index = np.arange(int(np.prod(shape))).reshape(shape)
    order = [file_axes.index(a) for a in axes]
    index = np.transpose(index, order)
    for rest in itertools.product(*[range(index.shape[k]) for k in range(1, len(axes))]):
        idx = index[(slice(None),) + rest]
        name = ", ".join(
            f"{KEY_WORDS.get(axes[k + 1], axes[k + 1])} = "
            f"{value_name(f['axes'][axes[k + 1]], f['axes'][axes[k + 1]][()][i], with_unit=True)}"
            for k, i in enumerate(rest))
        yield name, idx


def x_axis(f, ax, x_key):
    key = ordered_axes(f, x_key)[0]
    ds = f["axes"][key]
    names = axis_labels(ds)
    values = ds[()]
    factor, unit = (1.0, text(ds.attrs.get("units", ""))) if names else si_scale(
        values, text(ds.attrs.get("units", "")))
    ax.set_xlabel(key_label(key, unit))
    if int(ds.attrs.get("log", 0)):
        ax.set_xscale("log")
    if names:  # a boolean or choice axis: one tick per value name
        ax.set_xticks(np.arange(len(names)))
        ax.set_xticklabels(names)
    return values / factor


def title(f):
    """Model (or fan-in), noise mode, seeds and repeats of a sweep."""
    swept = [text(a) for a in f.attrs["axes"]]
    repeats = "" if "system.repeats" in swept else f", K = {int(f.attrs.get('config.system.repeats', 1))}"
    return base_title(f) + repeats


def base_title(f):
    if text(f.attrs.get("mode", "")) == "model":
        model = os.path.splitext(os.path.basename(text(f.attrs.get("model", ""))))[0]
        seeds = int(float(f.attrs.get("seeds", 1)))
        return (f"{model}, {text(f.attrs.get('noise', ''))} noise, "
                f"{int(float(f.attrs.get('limit', 0)))} test images, {seeds} seed{'s' if seeds > 1 else ''}")
    return f"one dot product, fan-in N = {int(float(f.attrs.get('fan_in', 0)))}"


def legend(ax):
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def save(fig, path):
    fig.tight_layout()
    path = f"{path}.{FORMAT}"
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    if LIST:
        # What each panel shows, for tests and for a reader of a log.
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            _, names = ax.get_legend_handles_labels()
            print(f"{path}: {ax.get_xlabel()} | {ax.get_ylabel()}: {'; '.join(names)}")
    plt.close(fig)
    print(path)


def finish(fig, ax, f, ylabel, path):
    """The y label, the sweep's title line, a grid, the legend outside the axes; saved."""
    ax.set_ylabel(ylabel)
    ax.set_title(title(f), fontsize=9)
    ax.grid(alpha=0.3, which="both")
    legend(ax)
    save(fig, path)


def colours(n):
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def plot_accuracy(f, prefix, x_key, done):
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    x = x_axis(f, ax, x_key)
    seeds = int(float(f.attrs.get("seeds", 1)))
    lines = list(series(f, x_key))
    for (name, idx), colour in zip(lines, colours(len(lines))):
        mean, std = f["accuracy_mean"][()][idx], f["accuracy_std"][()][idx]
        ok = done[idx]
        ax.plot(x[ok], 100 * mean[ok], marker="o", color=colour, label=name or "accuracy")
        if seeds > 1:  # the seeds' spread as a band (one seed has none)
            ax.fill_between(x[ok], 100 * (mean[ok] - std[ok]), 100 * (mean[ok] + std[ok]),
                            color=colour, alpha=0.2, linewidth=0)
    if "clean_accuracy" in f.attrs:
        clean = 100 * float(f.attrs["clean_accuracy"])
        for drop, style in ((0, "-"), (1, "--"), (2, ":")):
            ax.axhline(clean - drop, color="gray", linestyle=style, linewidth=1,
                       label="clean" if drop == 0 else f"clean - {drop} point{'s' if drop > 1 else ''}")
    finish(fig, ax, f, "test accuracy [%]", f"{prefix}_accuracy")


def plot_enob(f, prefix, x_key, done):
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    x = x_axis(f, ax, x_key)
    layers = [text(n) for n in f["enob"].attrs["layer_names"]]
    enob = f["enob"][()]
    lines = list(series(f, x_key))
    styles = colours(len(layers) * len(lines) + 2)
    c = 0
    for name, idx in lines:
        ok = done[idx]
        for l, layer in enumerate(layers):
            what = "analytic" if layer == "dot_product" else layer
            ax.plot(x[ok], enob[idx, l][ok], marker="o", color=styles[c], label=f"{what} {name}".strip())
            c += 1
        # Circuit sweeps: the sampled ENOBs next to the analytic one.
        for key, what, style in (("enob_monte_carlo", "Monte Carlo", "--"),
                                 ("enob_time_domain", "time domain", ":")):
            if key in f:
                ax.plot(x[ok], f[key][()][idx][ok], marker="s", linestyle=style,
                        label=f"{what} {name}".strip())
    finish(fig, ax, f, "effective number of bits [bit]", f"{prefix}_enob")


def plot_energy(f, prefix, x_key, done):
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    x = x_axis(f, ax, x_key)
    keys = (("detected_optical_aJ_per_mac", "detected optical"),
            ("laser_optical_aJ_per_mac", "laser optical"), ("total_aJ_per_mac", "total"))
    divisor, unit = energy_scale(np.concatenate([f[k][()][done] for k, _ in keys]))
    lines = list(series(f, x_key))
    for (key, what), style in zip(keys, ("-", "--", ":")):
        for (name, idx), colour in zip(lines, colours(len(lines))):
            ok = done[idx]
            ax.plot(x[ok], f[key][()][idx][ok] / divisor, marker="o", linestyle=style, color=colour,
                    label=f"{what} {name}".strip())
    ax.set_yscale("log")
    finish(fig, ax, f, f"energy per MAC [{unit}]", f"{prefix}_energy")


def plot_breakdown(f, prefix, done):
    # Shares on a linear axis (a stacked bar on a log axis hides the small parts), and the total.
    fig, (ax, ax_total) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    comp = f["energy_components"][()]
    names = [text(n) for n in f["energy_components"].attrs["component_names"]]
    points = np.flatnonzero(done)
    totals = comp[points].sum(axis=1)
    shares = 100 * comp[points] / np.where(totals > 0, totals, 1)[:, None]
    bottom = np.zeros(len(points))
    for c, (name, colour) in enumerate(zip(names, colours(len(names)))):
        words = name.replace("_", " ").replace("dacs", "DACs").replace("adc", "ADC")
        ax.bar(np.arange(len(points)), shares[:, c], bottom=bottom, color=colour, label=words)
        bottom += shares[:, c]
    keys = [text(a) for a in f.attrs["axes"]]
    scales = {}
    for k in keys:
        ds = f["axes"][k]
        scales[k] = (1.0, text(ds.attrs.get("units", ""))) if axis_labels(ds) else si_scale(
            ds[()], text(ds.attrs.get("units", "")))

    def tick(k, p):
        ds = f["axes"][k]
        v = f["points"][k][()][p]
        return axis_labels(ds)[int(v)] if axis_labels(ds) else f"{v / scales[k][0]:.3g}"

    ticks = [", ".join(tick(k, p) for k in keys) for p in points]
    xlabel = ", ".join(key_label(k, scales[k][1]) for k in keys)
    for a_ in (ax, ax_total):
        a_.set_xticks(np.arange(len(points)))
        a_.set_xticklabels(ticks, rotation=45, ha="right", fontsize=7)
        a_.set_xlabel(xlabel)
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of the energy per MAC [%]")
    ax.set_title(title(f), fontsize=9)
    ax.legend(fontsize=7, ncol=1, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    divisor, unit = energy_scale(f["total_aJ_per_mac"][()][points])
    ax_total.bar(np.arange(len(points)), f["total_aJ_per_mac"][()][points] / divisor, color="gray",
                 label="total")
    totals_shown = f["total_aJ_per_mac"][()][points]
    if totals_shown.min() > 0 and totals_shown.max() / totals_shown.min() > 10:
        ax_total.set_yscale("log")
    ax_total.set_ylabel(f"total energy per MAC [{unit}]")
    ax_total.grid(alpha=0.3, axis="y", which="both")
    save(fig, f"{prefix}_breakdown")


def plot_map(f, prefix, x_key, done):
    """Two-axis sweeps: accuracy (network) or the first ENOB (circuit) over the grid."""
    axes = ordered_axes(f, x_key)
    file_axes = [text(a) for a in f.attrs["axes"]]
    shape = [len(f["axes"][a][()]) for a in file_axes]
    network = "accuracy_mean" in f
    z = (100 * f["accuracy_mean"][()] if network else f["enob"][()][:, 0]).astype(float)
    z = np.where(done, z, np.nan).reshape(shape)
    if file_axes.index(axes[0]) == 0:
        z = z.T  # rows: the second key, columns: the x key
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    image = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("test accuracy [%]" if network else "effective number of bits [bit]")
    for axis, key, set_ticks, set_labels, set_label in (
            (0, axes[0], ax.set_xticks, ax.set_xticklabels, ax.set_xlabel),
            (1, axes[1], ax.set_yticks, ax.set_yticklabels, ax.set_ylabel)):
        ds = f["axes"][key]
        values = ds[()]
        factor, unit = (1.0, text(ds.attrs.get("units", ""))) if axis_labels(ds) else si_scale(
            values, text(ds.attrs.get("units", "")))
        set_ticks(np.arange(len(values)))
        set_labels([axis_labels(ds)[i] if axis_labels(ds) else f"{v / factor:.3g}"
                    for i, v in enumerate(values)], fontsize=7)
        set_label(key_label(key, unit))
    lo, hi = np.nanmin(z), np.nanmax(z)
    for (r, c), v in np.ndenumerate(z):
        if np.isfinite(v):  # dark text on the bright end of the colour map
            bright = hi > lo and (v - lo) / (hi - lo) > 0.6
            ax.text(c, r, f"{v:.1f}", ha="center", va="center", fontsize=6,
                    color="black" if bright else "white")
    ax.set_title(title(f), fontsize=9)
    save(fig, f"{prefix}_map")


def plot_sweep(f, prefix, x_key):
    done = f["done"][()].astype(bool)
    if "accuracy" in f:
        plot_accuracy(f, prefix, x_key, done)
    plot_enob(f, prefix, x_key, done)
    plot_energy(f, prefix, x_key, done)
    plot_breakdown(f, prefix, done)
    if len(f.attrs["axes"]) == 2:
        plot_map(f, prefix, x_key, done)


def plot_trace(f, prefix, window):
    t = f["time_s"][()]
    keep = np.ones(t.size, dtype=bool)
    if window:
        keep = (t >= window[0]) & (t <= window[1])
        if not keep.any():
            sys.exit(f"plot.py: error: --window {window[0]}:{window[1]} s holds no sample "
                     f"(the trace spans 0 to {t[-1]:.4g} s)")
    factor, time_unit = si_scale(t[keep], "s")
    ts = t[keep] / factor
    q = 1.602176634e-19
    gain = float(f.attrs["gain_electrons_per_unit"])
    panels = [
        ((("laser_power_W", "laser"),), "laser power [mW]", 1e3),
        ((("drive_signal_V", "drive, signal"), ("drive_lo_V", "drive, LO"),
          ("modulator_signal_V", "modulator, signal"), ("modulator_lo_V", "modulator, LO")), "voltage [V]", 1),
        ((("power_signal_W", "signal"), ("power_lo_W", "LO")), "power at the detector [uW]", 1e6),
        ((("current_plus_A", "diode +"), ("current_minus_A", "diode -")), "diode current [uA]", 1e6),
        ((("charge_C", "integrator"),), "charge [units of y]", 1 / (q * gain)),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, 9.5), sharex=True)
    opens, closes = f["window_open_s"][()] / factor, f["window_close_s"][()] / factor
    for ax, (names, ylabel, scale) in zip(axes, panels):
        for name, what in names:
            ax.plot(ts, f[name][()][keep] * scale, label=what, linewidth=1)
        for k, (a, b) in enumerate(zip(opens, closes)):
            ax.axvspan(a, b, color="gray", alpha=0.08 if k % 2 == 0 else 0.16, linewidth=0,
                       label="integration window" if k == 0 and ax is axes[-1] else None)
        ax.set_ylabel(ylabel, fontsize=8)
        legend(ax)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel(f"time [{time_unit}]")
    if window:
        axes[-1].set_xlim(ts[0], ts[-1])
    axes[0].set_title(
        f"one dot product, fan-in N = {int(f.attrs['fan_in'])}, K = {int(f.attrs['repeats'])}, "
        f"laser {1e3 * float(f.attrs['laser_power_W']):.3g} mW ({text(f.attrs['laser_model'])}): "
        f"ideal {float(f.attrs['ideal']):.4g}, read-out {float(f.attrs['readout']):.4g}", fontsize=9)
    save(fig, f"{prefix}_trace")


def parse_window(value):
    try:
        lo, hi = (float(v) for v in value.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not T0:T1 in seconds")
    if not lo < hi:
        raise argparse.ArgumentTypeError(f"'{value}': T0 must be < T1")
    return lo, hi


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--out-dir", default=None, help="folder for the figures (default: the file's folder)")
    p.add_argument("--prefix", default=None, help="file name prefix (default: the file's name)")
    p.add_argument("--x", default=None, help="sweeps: the swept key on the x axis (default the first)")
    p.add_argument("--format", default="png", choices=("png", "pdf", "svg"), help="figure format")
    p.add_argument("--dpi", type=int, default=150, help="resolution of PNG figures (default 150)")
    p.add_argument("--window", type=parse_window, default=None,
                   help="traces: the time window T0:T1 in seconds")
    p.add_argument("--list", action="store_true", help="also print what each panel shows")
    a = p.parse_args()
    global LIST, FORMAT, DPI
    LIST, FORMAT, DPI = a.list, a.format, a.dpi
    if not 20 <= a.dpi <= 2400:
        sys.exit(f"plot.py: error: --dpi {a.dpi}: must be in [20, 2400]")
    try:
        f = h5py.File(a.file, "r")
    except OSError as e:
        sys.exit(f"plot.py: error: cannot open '{a.file}' as HDF5: {e}")
    out_dir = a.out_dir or os.path.dirname(os.path.abspath(a.file))
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        sys.exit(f"plot.py: error: cannot create the output folder '{out_dir}': {e}")
    prefix = os.path.join(out_dir, a.prefix or os.path.splitext(os.path.basename(a.file))[0])
    kind = text(f.attrs.get("kind", ""))
    if kind == "lumac-sweep":
        plot_sweep(f, prefix, a.x)
    elif kind == "lumac-trace":
        plot_trace(f, prefix, a.window)
    else:
        sys.exit(f"plot.py: error: '{a.file}' is not a lumac sweep or trace file (kind '{kind}')")


if __name__ == "__main__":
    main()
