#!/usr/bin/python3
"""Plots lumac result files (HDF5) as PNGs.

    /usr/bin/python3 scripts/plot.py FILE.h5 [--out-dir DIR] [--prefix NAME] [--list]

Sweep files (kind lumac-sweep, docs/sweep_file.md) give
  <prefix>_accuracy.png   accuracy vs the first swept key (mean and spread over seeds), with the
                          clean accuracy and the -1 and -2 point lines (network sweeps)
  <prefix>_enob.png       ENOB per layer vs the first swept key, and the Monte Carlo and
                          time-domain ENOBs of circuit sweeps that have them
  <prefix>_energy.png     optical (detected, laser) and total aJ/MAC vs the first swept key
  <prefix>_breakdown.png  each component's share of the energy per MAC at every point (stacked,
                          linear, 100%), next to the total aJ/MAC
Trace files (kind lumac-trace, docs/trace_file.md) give <prefix>_trace.png: drives, modulator
outputs, optical powers, diode currents and integrator charge against time.
Further swept keys become one line per combination. Axes carry units; a logarithmic sweep gets a
log axis. Run with Debian's /usr/bin/python3 (python3-h5py, python3-matplotlib, python3-numpy).
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


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def label(name, units):
    units = text(units)
    return f"{name} [{units}]" if units and units != "1" else name


def axis_labels(ds):
    """The value names of a boolean or choice axis (its values are indices), else None."""
    return [text(v) for v in ds.attrs["labels"]] if "labels" in ds.attrs else None


def value_name(ds, value):
    names = axis_labels(ds)
    return names[int(value)] if names else f"{value:.4g}"


def series(f):
    """Yields (label, point indices along the first axis) for every combination of the others."""
    axes = [text(a) for a in f.attrs["axes"]]
    values = [f["axes"][a][()] for a in axes]
    shape = [len(v) for v in values]
    index = np.arange(int(np.prod(shape))).reshape(shape)
    for rest in itertools.product(*[range(n) for n in shape[1:]]):
        idx = index[(slice(None),) + rest]
        name = ", ".join(f"{axes[k + 1]}={value_name(f['axes'][axes[k + 1]], values[k + 1][i])}"
                         for k, i in enumerate(rest))
        yield name, idx


def x_axis(f, ax):
    key = text(f.attrs["axes"][0])
    ds = f["axes"][key]
    ax.set_xlabel(label(key, ds.attrs.get("units", "")))
    if int(ds.attrs.get("log", 0)):
        ax.set_xscale("log")
    names = axis_labels(ds)
    if names:  # a boolean or choice axis: one tick per value name
        ax.set_xticks(np.arange(len(names)))
        ax.set_xticklabels(names)
    return ds[()]


def save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    if LIST:
        # What each panel shows, for tests and for a reader of a log.
        for ax in fig.axes:
            _, names = ax.get_legend_handles_labels()
            print(f"{path}: {ax.get_ylabel()}: {'; '.join(names)}")
    plt.close(fig)
    print(path)


LIST = False


def plot_sweep(f, prefix):
    done = f["done"][()].astype(bool)
    if "accuracy" in f:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        x = x_axis(f, ax)
        for name, idx in series(f):
            mean, std = f["accuracy_mean"][()][idx], f["accuracy_std"][()][idx]
            ok = done[idx]
            # One seed has no spread: no zero-height error bars.
            yerr = 100 * std[ok] if int(f.attrs.get("seeds", 1)) > 1 else None
            ax.errorbar(x[ok], 100 * mean[ok], yerr=yerr, marker="o", capsize=3, label=name or "accuracy")
        if "clean_accuracy" in f.attrs:
            clean = 100 * float(f.attrs["clean_accuracy"])
            for drop, style in ((0, "-"), (1, "--"), (2, ":")):
                ax.axhline(clean - drop, color="gray", linestyle=style, linewidth=1,
                           label="clean" if drop == 0 else f"clean - {drop} pt")
        ax.set_ylabel("test accuracy [%]")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        save(fig, f"{prefix}_accuracy.png")

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    x = x_axis(f, ax)
    layers = [text(n) for n in f["enob"].attrs["layer_names"]]
    enob = f["enob"][()]
    for name, idx in series(f):
        for l, layer in enumerate(layers):
            ok = done[idx]
            what = "analytic" if layer == "dot_product" else layer
            ax.plot(x[ok], enob[idx, l][ok], marker="o", label=f"{what} {name}".strip())
        # Circuit sweeps: the sampled ENOBs next to the analytic one.
        for key, what, style in (("enob_monte_carlo", "Monte Carlo", "--"),
                                 ("enob_time_domain", "time domain", ":")):
            if key in f:
                ok = done[idx]
                ax.plot(x[ok], f[key][()][idx][ok], marker="s", linestyle=style,
                        label=f"{what} {name}".strip())
    ax.set_ylabel("ENOB [bit]")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save(fig, f"{prefix}_enob.png")

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    x = x_axis(f, ax)
    for key, what in (("detected_optical_aJ_per_mac", "detected optical"),
                      ("laser_optical_aJ_per_mac", "laser optical"), ("total_aJ_per_mac", "total")):
        for name, idx in series(f):
            ok = done[idx]
            ax.plot(x[ok], f[key][()][idx][ok], marker="o", label=f"{what} {name}".strip())
    ax.set_yscale("log")
    ax.set_ylabel("energy per MAC [aJ]")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    save(fig, f"{prefix}_energy.png")

    # Shares on a linear axis (a stacked bar on a log axis hides the small parts), and the total.
    fig, (ax, ax_total) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    comp = f["energy_components"][()]
    names = [text(n) for n in f["energy_components"].attrs["component_names"]]
    points = np.flatnonzero(done)
    totals = comp[points].sum(axis=1)
    shares = 100 * comp[points] / np.where(totals > 0, totals, 1)[:, None]
    bottom = np.zeros(len(points))
    for c, name in enumerate(names):
        ax.bar(np.arange(len(points)), shares[:, c], bottom=bottom, label=name)
        bottom += shares[:, c]
    keys = [text(a) for a in f.attrs["axes"]]
    ticks = [", ".join(value_name(f["axes"][k], f["points"][k][()][p]) for k in keys) for p in points]
    xlabel = ", ".join(label(k, f["axes"][k].attrs.get("units", "")) for k in keys)
    for a_ in (ax, ax_total):
        a_.set_xticks(np.arange(len(points)))
        a_.set_xticklabels(ticks, rotation=45, ha="right", fontsize=7)
        a_.set_xlabel(xlabel)
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of the energy per MAC [%]")
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax_total.bar(np.arange(len(points)), f["total_aJ_per_mac"][()][points], color="gray", label="total")
    ax_total.set_yscale("log")
    ax_total.set_ylabel("total energy per MAC [aJ]")
    ax_total.grid(alpha=0.3, axis="y", which="both")
    save(fig, f"{prefix}_breakdown.png")


def plot_trace(f, prefix):
    t = f["time_s"][()] * 1e9
    panels = [
        (("drive_signal_V", "drive_lo_V", "modulator_signal_V", "modulator_lo_V"), "voltage [V]"),
        (("power_signal_W", "power_lo_W"), "optical power at the detector [W]"),
        (("current_plus_A", "current_minus_A"), "diode current [A]"),
        (("charge_C",), "integrator charge [C]"),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, 8.5), sharex=True)
    for ax, (names, ylabel) in zip(axes, panels):
        for name in names:
            ax.plot(t, f[name][()], label=name, linewidth=1)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.legend(fontsize=7, loc="upper right")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time [ns]")
    axes[0].set_title(f"N = {int(f.attrs['fan_in'])}: ideal {float(f.attrs['ideal']):.4g}, "
                      f"read-out {float(f.attrs['readout']):.4g}", fontsize=9)
    save(fig, f"{prefix}_trace.png")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--out-dir", default=None, help="folder for the PNGs (default: the file's folder)")
    p.add_argument("--prefix", default=None, help="file name prefix (default: the file's name)")
    p.add_argument("--list", action="store_true", help="also print what each panel shows")
    a = p.parse_args()
    global LIST
    LIST = a.list
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
        plot_sweep(f, prefix)
    elif kind == "lumac-trace":
        plot_trace(f, prefix)
    else:
        sys.exit(f"plot.py: error: '{a.file}' is not a lumac sweep or trace file (kind '{kind}')")


if __name__ == "__main__":
    main()
