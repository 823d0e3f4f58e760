"""lumac: a photonic hardware co-simulator for analog optical processors, from Python.

The same library as the ``lumac`` command line, with the same numbers bit for bit and the
same errors: bad input raises ValueError (OSError for files) with the CLI's one-line message,
Ctrl-C raises KeyboardInterrupt. Units are SI, written in the names (``laser.power_W``,
``detected_optical_aJ_per_mac``). Guide: docs/python.md.

    import lumac
    cfg = lumac.Config()                      # the default preset, homodyne_1550
    cfg["laser.power_W"] = 1e-3
    model = lumac.load_model("data/models/fmnist_cnn.h5")
    r = model.evaluate(noise="physical", config=cfg, limit=1000)
    print(r.accuracy_mean, r.energy["total_aJ_per_mac"])
"""

import atexit
import numbers
import os
import shutil
import sys
import tempfile

import numpy as np

from . import _lumac
from ._lumac import __version__, data_dir, presets
from ._results import ArrayResult, Result, Sweep, Trace

__all__ = [
    "Config", "Model", "Result", "Sweep", "Trace", "circuit_energy", "data_dir", "devices",
    "enob", "from_torch", "import_onnx", "load_dataset", "load_model", "presets", "sweep", "trace", "train",
    "__version__",
]

_NOISE_MODES = "none | shot | thermal | weight | physical | enob"


class Config(_lumac.Config):
    """A lumac configuration: a preset or TOML file plus overrides, in SI units (the CLI's
    --config and --set).

    Config() is the default preset (homodyne_1550); Config("name") a preset of data/presets;
    Config("path/to/file.toml") a TOML file. cfg["laser.power_W"] = 2e-3 sets a key with the
    CLI's validation: an unknown key or a bad value raises ValueError with the CLI's one-line
    message (naming the nearest valid key) and leaves the config unchanged. Values are Python or
    numpy bools, integers, floats or strings; cfg[key] gives them back in the key's unit.
    """

    def __init__(self, file=None):
        super().__init__(None if file is None else os.fspath(file))

    def __setitem__(self, key, value):
        if isinstance(value, (bool, np.bool_)):
            value = bool(value)
        elif isinstance(value, numbers.Integral):
            value = int(value)
        elif isinstance(value, numbers.Real):
            value = float(value)
        elif not isinstance(value, str):
            raise TypeError(f"config value of {key}: a bool, integer, float or string, not "
                            f"{type(value).__name__}")
        super().__setitem__(key, value)

    def copy(self):
        """An independent copy (the same file and overrides)."""
        c = Config(self.file)
        for o in self.overrides:
            key, value = o.split("=", 1)
            _lumac.Config.__setitem__(c, key, value)
        return c


_INTEGERS = {"seed", "seeds", "limit", "batch", "repeats", "bits", "steps", "train_batch",
             "fan_in", "monte_carlo", "samples_per_symbol", "calibration_samples", "epochs",
             "opset_version"}
_REALS = {"photons_per_mac", "enob", "range", "laser_lead_s", "target_drop", "learning_rate",
          "lambda_", "target_energy", "resolution"}
_REAL_LISTS = {"energy_per_layer", "enob_per_layer", "drops"}
_INTEGER_LISTS = {"repeats_per_layer"}
_STRINGS = {"noise", "sources", "encoding", "averaging", "vectors", "laser", "dataset", "key",
            "better", "arch", "optimizer", "split"}


def _integer(name, v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be a whole number (got {v!r})")
    return int(v)


def _real(name, v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a real number (got {v!r})")
    return float(v)


def _checked(**kwargs):
    """The keywords with their types checked (one line naming the keyword, not pybind11's dump
    of every argument) and converted (numpy scalars to Python numbers)."""
    out = {}
    for name, v in kwargs.items():
        if v is not None:
            if name in _INTEGERS:
                v = _integer(name, v)
                if name == "seed" and v < 0:
                    raise ValueError(f"seed = {v}: must be a whole number >= 0")
            elif name in _REALS:
                v = _real(name, v)
            elif name in _REAL_LISTS or name in _INTEGER_LISTS:
                if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
                    raise TypeError(f"{name} must be a list of numbers (got {v!r})")
                convert = _real if name in _REAL_LISTS else _integer
                v = [convert(name, x) for x in v]
            elif name in _STRINGS and not isinstance(v, str):
                raise TypeError(f"{name} must be a string (got {type(v).__name__})")
        out[name] = v
    return out


def _call(fn, *args, **kwargs):
    """Calls the native function; a type pybind11 cannot convert is one line."""
    try:
        return fn(*args, **kwargs)
    except TypeError as e:
        if "incompatible function arguments" not in str(e):
            raise
        raise TypeError(f"lumac: an argument of {fn.__name__}() has a type it does not take "
                        "(see its help)") from None


def _config(config):
    """None, a Config, a preset name or TOML file, or a dict of overrides on the default."""
    if config is None or isinstance(config, _lumac.Config):
        return config
    if isinstance(config, (str, os.PathLike)):
        return Config(os.fspath(config))
    if isinstance(config, dict):
        cfg = Config()
        for key, value in config.items():
            cfg[key] = value
        return cfg
    raise TypeError("config must be a lumac.Config, a preset name or TOML file, or a dict of "
                    f"overrides (got {type(config).__name__})")


def _path(path):
    return None if path is None else os.fspath(path)


class _LineProgress:
    """Progress on stderr when tqdm is not installed: one line rewritten in place on a
    terminal, else a line at every tenth."""

    def __init__(self, label):
        self.label = label
        self.shown = -1
        self.terminal = sys.stderr.isatty()

    def __call__(self, done, total):
        tenth = 10 * done // max(total, 1)
        if self.terminal:
            end = "\n" if done >= total else ""
            print(f"\r{self.label}: {done}/{total}", end=end, file=sys.stderr, flush=True)
        elif tenth != self.shown:
            self.shown = tenth
            print(f"{self.label}: {done}/{total}", file=sys.stderr, flush=True)


class _TqdmProgress:
    def __init__(self, tqdm, label):
        self.bar = None
        self.tqdm = tqdm
        self.label = label

    def __call__(self, done, total):
        if self.bar is None:
            self.bar = self.tqdm(total=total, desc=self.label)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.bar.close()


def _progress(progress, label):
    """None/False: none; True: tqdm when installed, else a line on stderr; a callable is called
    as progress(done, total)."""
    if progress is None or progress is False:
        return None
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return _LineProgress(label)
        return _TqdmProgress(tqdm, label)
    if not callable(progress):
        raise TypeError("progress must be None, True or a callable progress(done, total)")
    return progress


def _hardware(noise, photons_per_mac, repeats, energy_per_layer, repeats_per_layer, enob,
              enob_per_layer, bits, sources):
    """The hardware keywords, checked, as the native _Hardware; noise None is the CLI's default
    (physical, or none with bits alone)."""
    k = _checked(noise=noise or "", photons_per_mac=photons_per_mac, repeats=repeats,
                 energy_per_layer=list(energy_per_layer or []),
                 repeats_per_layer=list(repeats_per_layer or []), enob=enob,
                 enob_per_layer=list(enob_per_layer or []), bits=bits, sources=sources)
    h = _lumac._Hardware()
    for name, value in k.items():
        setattr(h, name, value)
    return dict(hardware=h)


def _circuit(fan_in, config, photons_per_mac, repeats, encoding, averaging, sources, vectors,
             range):
    return dict(config=_config(config), **_checked(
        fan_in=fan_in, photons_per_mac=photons_per_mac, repeats=repeats, encoding=encoding,
        averaging=averaging, sources=sources, vectors=vectors, range=range))


def devices(*, config=None):
    """The derived figures of every device of a config (lumac devices): a dict {name: value}
    with the unit in each name (photon_energy_J, laser_electrical_power_W,
    photons_per_symbol_signal, adc_energy_per_conversion_J, ...)."""
    return _call(_lumac.devices, config=_config(config))


def enob(fan_in, *, config=None, photons_per_mac=None, repeats=None, encoding="", averaging="",
         sources="all", vectors="uniform", range=0.0, monte_carlo=0, time_domain=False,
         samples_per_symbol=4, seed=1):
    """The noise budget and ENOB of one dot product of fan-in ``fan_in`` (lumac enob).

    photons_per_mac: set the laser power (W) so that the detector sees this many photons per MAC
    at full scale; repeats: K repeats of the dot product; encoding: full-scale | norm-adaptive;
    averaging: digital | analog; sources: the noise sources kept ("all", "none" or a comma
    list); vectors: uniform | positive | ones; range: output full scale R (0: 2 ||x|| ||w||);
    monte_carlo: also a Monte Carlo ENOB over this many samples; time_domain: also a time-domain
    ENOB (runs: monte_carlo, default 200) at samples_per_symbol. Returns a Result: the budget's
    terms (noise_std: std in units of y by source), enob_analytic (bits), and enob_monte_carlo
    and enob_time_domain when asked.
    """
    return Result("enob", _call(
        _lumac.enob, **_circuit(fan_in, config, photons_per_mac, repeats, encoding, averaging,
                                sources, vectors, range),
        **_checked(monte_carlo=monte_carlo, samples_per_symbol=samples_per_symbol, seed=seed),
        time_domain=bool(time_domain)))


def circuit_energy(fan_in, *, config=None, photons_per_mac=None, repeats=None, encoding="",
                   averaging="", sources="all", vectors="uniform", range=0.0, seed=1):
    """The energy account of one dot product of fan-in ``fan_in`` on a full tile (lumac energy
    --fan-in): aJ per MAC by component (optical, modulators, DACs, ADC, ...), with the ENOB it
    buys. Arguments as for enob()."""
    return Result("energy", _call(
        _lumac.circuit_energy, **_circuit(fan_in, config, photons_per_mac, repeats, encoding,
                                          averaging, sources, vectors, range),
        **_checked(seed=seed)))


def trace(fan_in, *, config=None, photons_per_mac=None, repeats=None, encoding="",
          averaging="", sources="all", vectors="uniform", range=0.0, samples_per_symbol=16,
          laser="cw", laser_lead_s=5e-9, seed=1, out=None, force=False):
    """The time-domain simulation of one dot product (lumac trace): a Trace with numpy arrays
    (time_s in s, drive voltages in V, optical powers in W, diode currents in A, integrator
    charge in C, ADC codes). laser: cw | rate-equation (laser_lead_s: turn-on to the first
    symbol, s). out: also write the HDF5 trace file (docs/trace_file.md); force: overwrite it.
    Circuit arguments as for enob()."""
    summary, arrays = _call(
        _lumac.trace, **_circuit(fan_in, config, photons_per_mac, repeats, encoding, averaging,
                                 sources, vectors, range),
        **_checked(samples_per_symbol=samples_per_symbol, laser=laser, laser_lead_s=laser_lead_s,
                   seed=seed), out=_path(out), force=bool(force))
    return Trace("trace", summary, arrays)


def _numeric_array(name, x):
    """x as a real numpy array (complex, object and string arrays refused in one line)."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of real numbers (got dtype {a.dtype})")
    return a


class Model:
    """A network on the simulated hardware: a lumac model file (.h5) or an ONNX model.

    Attributes: path, dataset (the dataset it is for), input_shape (per sample),
    output_shapes, output_names, nodes (one dict per node: name, op, inputs, output_shape,
    analog, and for matrix products fan_in, outputs, positions and macs), macs_per_sample,
    calibrated, notices (what loading did, e.g. an ONNX import).

    The hardware keywords of infer, evaluate, energy and search are the CLI's: noise (none |
    shot | thermal | weight | physical | enob; None: physical, or none when only bits is given),
    photons_per_mac (shot: E, detected photons per MAC; physical: sets the laser power for that
    many), repeats (K per product), energy_per_layer and repeats_per_layer (one per matrix
    product), enob and enob_per_layer (enob mode, bits), bits (digital baseline with noise
    none), sources (physical mode).
    """

    def __init__(self, native):
        self._m = native

    path = property(lambda self: self._m.path, doc="The file the model was loaded from.")
    dataset = property(lambda self: self._m.dataset, doc="The dataset the model is for.")
    input_shape = property(lambda self: self._m.input_shape,
                           doc="The per-sample input shape (several graph inputs: packed, flat).")
    inputs = property(lambda self: self._m.graph_inputs,
                      doc="The graph inputs: one dict each with name, shape (per sample), type "
                          "(float, int64 or bool) and feature (what a dataset feeds it: sample, "
                          "attention-mask, padding-mask or none).")
    output_shapes = property(lambda self: self._m.output_shapes,
                             doc="The per-sample shape of every output.")
    output_names = property(lambda self: self._m.output_names,
                            doc="The outputs' names ('output' for a single one).")
    nodes = property(lambda self: self._m.nodes, doc="One dict per node, in execution order.")
    macs_per_sample = property(lambda self: self._m.macs_per_sample,
                               doc="Multiply-accumulates of the matrix products per sample.")
    calibrated = property(lambda self: self._m.calibrated,
                          doc="Whether the model has calibration ranges (analog modes need them).")
    notices = property(lambda self: self._m.notices, doc="What loading the model did.")

    def __repr__(self):
        return (f"<lumac.Model '{self.path}': input {self.input_shape}, {len(self.nodes)} nodes, "
                f"{self.macs_per_sample} MACs per sample>")

    def _need_calibration(self, what):
        if not self.calibrated:
            raise ValueError(f"model '{self.path}' has no calibration, which {what} needs: load it "
                             "with its dataset (lumac.load_model(path, dataset=...) or "
                             "lumac.from_torch(..., dataset=...)) to calibrate it")

    def summary(self):
        """One line per node with its shapes (and MACs for matrix products)."""
        return self._m.summary()

    def infer(self, x, *, noise="none", photons_per_mac=None, repeats=None,
              energy_per_layer=None, repeats_per_layer=None, enob=None, enob_per_layer=None,
              bits=None, sources="all", config=None, seed=1, batch=256):
        """Runs a batch through the model (lumac infer): x of shape (N, *input_shape), or, for a
        model of several graph inputs (see `inputs`), a dict {input name: array of shape
        (N, *that input's shape)}; token ids and masks as integer or bool arrays.

        A float32 C-contiguous x is read in place; other real arrays are converted once.
        Returns the output array (N, ...) of a single-output model, else {name: array}; the
        arrays hold lumac's memory (no copy). The noise of sample i depends only on (seed, i)."""
        packed = isinstance(x, dict)
        x = self._packed(x) if packed else _numeric_array("x", x)
        outs = _call(self._m.infer, x, packed=packed, config=_config(config),
                     **_checked(seed=seed, batch=batch),
                     **_hardware(noise, photons_per_mac, repeats, energy_per_layer,
                                 repeats_per_layer, enob, enob_per_layer, bits, sources))
        if len(outs) == 1:
            return outs[0]
        return dict(zip(self.output_names, outs))

    def _packed(self, x):
        """Inputs as the model takes them: an array, or for a model of several graph inputs a
        dict {input name: array}, packed one input after the other per sample (its input_shape)."""
        if not isinstance(x, dict):
            return _numeric_array("the inputs", x)
        names = [i["name"] for i in self.inputs]
        unknown = sorted(set(map(str, x)) - set(names))
        if unknown:
            raise ValueError(f"the model has no graph input '{unknown[0]}' (its inputs: "
                             f"{', '.join(names)})")
        parts = []
        for i in self.inputs:
            if i["name"] not in x:
                raise ValueError(f"no array for graph input '{i['name']}' (the model's inputs: "
                                 f"{', '.join(names)})")
            a = _numeric_array(f"x['{i['name']}']", x[i["name"]])
            if a.ndim < 1 or tuple(a.shape[1:]) != tuple(i["shape"]):
                raise ValueError(f"input '{i['name']}' has shape {tuple(a.shape)}, the model "
                                 f"takes (N, {', '.join(map(str, i['shape']))})")
            if a.dtype.kind in "iu" and a.size and int(np.abs(a).max()) > 2 ** 24:
                # checked before float32 would round it (lumac carries ids as exact floats)
                raise ValueError(f"input '{i['name']}' holds {int(np.abs(a).max())}, beyond 2^24 "
                                 f"in magnitude")
            parts.append(np.asarray(a, dtype=np.float32).reshape(a.shape[0], -1))
        counts = {i["name"]: p.shape[0] for i, p in zip(self.inputs, parts)}
        if len(set(counts.values())) != 1:
            raise ValueError("the inputs' arrays hold different numbers of samples: " +
                             ", ".join(f"{k} {v}" for k, v in counts.items()))
        packed = np.concatenate(parts, axis=1)
        return np.ascontiguousarray(packed.reshape((packed.shape[0],) + tuple(self.input_shape)))

    def evaluate(self, data=None, *, noise=None, photons_per_mac=None, repeats=None,
                 energy_per_layer=None, repeats_per_layer=None, enob=None, enob_per_layer=None,
                 bits=None, sources="all", config=None, seeds=1, seed=1, limit=0, batch=256):
        """Accuracy on the simulated hardware over seeds seed ... seed + seeds - 1 (lumac eval).

        data: None (the model's dataset), a dataset name (fashion-mnist | mnist | spam), or a pair
        (inputs of shape (N, *input_shape), or a dict {input name: array} for a model of several
        graph inputs, and integer labels of shape (N,)); limit: the first N
        test images or samples (0: all). Returns a Result equal to lumac eval --json:
        accuracy_mean, accuracy_std, accuracy (per seed), clean_accuracy, layers (per matrix
        product: E, repeats, noise std, ENOB in bits, clipped fractions) and energy (the
        network's aJ per MAC by component, and per layer)."""
        self._need_calibration("evaluate")
        limit = _checked(limit=limit)["limit"]
        dataset, inputs, labels = "", None, None
        if isinstance(data, str):
            dataset = data
        elif data is not None:
            if not isinstance(data, (tuple, list)) or len(data) != 2:
                raise TypeError("data must be None (the model's dataset), a dataset name, or a "
                                "pair (inputs, labels)")
            inputs = self._packed(data[0])
            labels = np.asarray(data[1])
            if labels.dtype.kind not in "iu":
                raise TypeError(f"the labels must be integers (got dtype {labels.dtype})")
            if limit:
                if limit < 0 or limit > len(labels):
                    raise ValueError(f"limit = {limit}: there are {len(labels)} samples")
                inputs, labels = inputs[:limit], labels[:limit]
                limit = 0
        return Result("eval", _call(
            self._m.evaluate, config=_config(config), dataset=dataset, inputs=inputs,
            labels=labels, **_checked(seed=seed, seeds=seeds, limit=limit, batch=batch),
            **_hardware(noise, photons_per_mac, repeats, energy_per_layer, repeats_per_layer,
                        enob, enob_per_layer, bits, sources)))

    def energy(self, *, noise=None, photons_per_mac=None, repeats=None, energy_per_layer=None,
               repeats_per_layer=None, enob=None, enob_per_layer=None, bits=None, sources="all",
               config=None, seed=1, dataset=None, limit=0, batch=256):
        """The energy account (lumac energy --model): aJ per MAC by component and node, optical
        and electrical, next to the accuracy and ENOB it buys, measured on the first `limit`
        test images (0: 200)."""
        self._need_calibration("energy")
        return Result("energy", _call(
            self._m.energy, config=_config(config),
            **_checked(seed=seed, dataset=dataset or "", limit=limit, batch=batch),
            **_hardware(noise, photons_per_mac, repeats, energy_per_layer, repeats_per_layer,
                        enob, enob_per_layer, bits, sources)))

    def learn_precision(self, noise, *, drops=(0.01, 0.02), per_channel=False,
                        unconstrained=False, integer_repeats=False, steps=1500, train_batch=64,
                        learning_rate=0.01, lambda_=None, target_energy=None, sources="all",
                        seeds=1, seed=1, config=None, dataset=None, limit=0, batch=256, out=None,
                        force=False, progress=None):
        """Learns the precision (E) of every matrix product of the frozen model and compares it
        with one uniform E at each accuracy drop in `drops` (lumac precision: --target-drop).

        noise: shot | thermal | weight | physical; steps mini-batches of train_batch training
        images (Adam, learning_rate: --lr); lambda_: energy weight; target_energy: E_target;
        seeds: the study over seeds seed ... seed + seeds - 1 with the spread of the saving; out:
        also write the HDF5 results file; progress: True (tqdm or a line on stderr) or
        progress(done, total). Returns a Result equal to lumac precision --json."""
        self._need_calibration("learn_precision")
        k = _checked(noise=noise, drops=list(drops), steps=steps, train_batch=train_batch,
                     learning_rate=learning_rate, lambda_=lambda_, target_energy=target_energy,
                     sources=sources, seed=seed, seeds=seeds, dataset=dataset or "",
                     limit=limit, batch=batch)
        spec = _lumac._PrecisionSpec()
        spec.noise = k["noise"]
        spec.drops = k["drops"]
        spec.per_channel = bool(per_channel)
        spec.unconstrained = bool(unconstrained)
        spec.integer_repeats = bool(integer_repeats)
        spec.steps = k["steps"]
        spec.batch = k["train_batch"]
        spec.learning_rate = k["learning_rate"]
        spec.lambda_ = k["lambda_"]
        spec.target_energy = k["target_energy"]
        spec.sources = k["sources"]
        spec.seed = k["seed"]
        return Result("precision", _call(
            self._m.learn_precision, spec, config=_config(config), seeds=k["seeds"],
            dataset=k["dataset"], limit=k["limit"], batch=k["batch"], out=_path(out),
            force=bool(force), progress=_progress(progress, "learning precision")))

    def search(self, key, *, target_drop=0.01, better="higher", noise=None,
               photons_per_mac=None, repeats=None, energy_per_layer=None,
               repeats_per_layer=None, enob=None, enob_per_layer=None, bits=None, sources="all",
               config=None, seeds=1, seed=1, limit=0, batch=256, resolution=1.05):
        """The least favourable value of config key `key` (lumac search --param, e.g.
        "laser.power_W") that keeps the accuracy within target_drop of the clean accuracy.
        better: higher (the accuracy grows with the key) | lower; resolution: for real keys, the
        bracket's ratio at the end. Returns a Result equal to lumac search --json."""
        self._need_calibration("search")
        return Result("search", _call(
            _lumac.search, self.path, config=_config(config),
            dataset=self._m.asked_dataset,
            **_checked(key=key, target_drop=target_drop, better=better, seeds=seeds, seed=seed,
                       limit=limit, batch=batch),
            tolerance_ratio=_real("resolution", resolution),
            **_hardware(noise, photons_per_mac, repeats, energy_per_layer, repeats_per_layer,
                        enob, enob_per_layer, bits, sources)))

    def save(self, path, *, force=False, config=None):
        """Writes the model (graph, weights, calibration, source) as a lumac model file (.h5)."""
        _call(self._m.save, os.fspath(path), force=bool(force), config=_config(config))


def load_dataset(name, *, split="test", limit=0):
    """A bundled dataset (fashion-mnist | mnist | spam) as numpy arrays: the samples and labels
    (N,) int64; split: test | train; limit: the first N (0: all). Images are (N, 1, 28, 28)
    float32 in [0, 1]; spam (SpamAssassin mail, label 1 = spam) gives (N, 128) float32 token
    ids of data/models/spam_transformer_vocab.txt, padded with 0."""
    k = _checked(dataset=name, split=split, limit=limit)
    return _call(_lumac.load_dataset, k["dataset"], split=k["split"], limit=k["limit"])


def load_model(path, *, dataset=None, calibration_samples=1000):
    """Loads a lumac model file (.h5) or an ONNX model (.onnx).

    An ONNX model is imported (docs/models.md) and, with `dataset`, calibrated on its first
    calibration_samples training images; without a dataset it is not calibrated and runs
    infer() without noise only."""
    return Model(_call(_lumac.load_model, os.fspath(path),
                       **_checked(dataset=dataset or "",
                                  calibration_samples=calibration_samples)))


def import_onnx(onnx, *, dataset, calibration_samples=1000, out=None, force=False, config=None,
                bind=None):
    """Imports and calibrates an ONNX model for `dataset` (lumac import); out: also write it as
    a model file; bind: {graph input name: feature} (lumac import --bind: sample,
    attention-mask, padding-mask or none). Returns the Model; its `import_report` is lumac
    import --json."""
    if bind is not None and (not isinstance(bind, dict) or
                             not all(isinstance(k, str) and isinstance(v, str)
                                     for k, v in bind.items())):
        raise TypeError("bind must be a dict {graph input name: feature name}, both strings")
    binds = [f"{k}={v}" for k, v in (bind or {}).items()]
    native, report = _call(_lumac.import_onnx, os.fspath(onnx), out=_path(out),
                           force=bool(force), config=_config(config), bind=binds,
                           **_checked(dataset=dataset, calibration_samples=calibration_samples))
    model = Model(native)
    model.import_report = Result("import", report)
    return model


def train(*, dataset, arch, epochs, out, optimizer="adam", batch=64, learning_rate=None,
          limit=0, seed=1, force=False, config=None, progress=None):
    """Trains a bundled architecture (arch: mlp | cnn) on dataset (fashion-mnist | mnist),
    calibrates it and writes the model file `out` (lumac train). Returns the Model; its
    `train_report` is lumac train --json. progress: per epoch."""
    k = _checked(dataset=dataset, arch=arch, epochs=epochs, optimizer=optimizer, batch=batch,
                 learning_rate=learning_rate, limit=limit, seed=seed)
    spec = _lumac._TrainSpec()
    for name, value in k.items():
        setattr(spec, name, value)
    native, report = _call(_lumac.train, spec, out=os.fspath(out), force=bool(force),
                           config=_config(config), progress=_progress(progress, "training"))
    model = Model(native)
    model.train_report = Result("train", report)
    return model


def sweep(params, *, model=None, config=None, dataset=None, fan_in=0, photons_per_mac=None,
          repeats=None, encoding="", averaging="", sources="all", vectors="uniform", range=0.0,
          monte_carlo=0, time_domain=False, noise=None, seeds=1, seed=1, limit=0, batch=256,
          energy_per_layer=None, repeats_per_layer=None, enob=None, out=None, force=False,
          progress=None):
    """A grid over config keys (lumac sweep --param): params is a list of axes
    "KEY=START:STOP:N[:log]" (one string is one axis).

    With model (a Model or a model file): at each point the accuracy over `seeds` seeds, the
    ENOB of every matrix product and the energy (noise: physical by default); with fan_in: the
    circuit's ENOB and energy (monte_carlo, time_domain as for enob()). out: also write the HDF5
    sweep file (docs/sweep_file.md). Returns a Sweep with numpy arrays over the grid."""
    if isinstance(params, str):
        params = [params]
    if not all(isinstance(p, str) for p in params):
        raise TypeError("params must be a string KEY=START:STOP:N[:log] or a list of them")
    model_path, model_dataset = "", dataset or ""
    if isinstance(model, Model):
        model_path = model.path
        model_dataset = model_dataset or model._m.asked_dataset
    elif model is not None:
        model_path = os.fspath(model)
    summary, arrays = _call(
        _lumac.sweep, list(params), config=_config(config), model=model_path,
        time_domain=bool(time_domain), out=_path(out), force=bool(force),
        progress=_progress(progress, "sweep"),
        **_checked(dataset=model_dataset, fan_in=fan_in, photons_per_mac=photons_per_mac,
                   repeats=repeats, encoding=encoding, averaging=averaging, sources=sources,
                   vectors=vectors, range=range, monte_carlo=monte_carlo, noise=noise or "",
                   seeds=seeds, seed=seed, limit=limit, batch=batch,
                   energy_per_layer=list(energy_per_layer or []),
                   repeats_per_layer=list(repeats_per_layer or []), enob=enob))
    return Sweep("sweep", summary, arrays)


_torch_exports = []


def _remove_torch_exports():
    for d in _torch_exports:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_remove_torch_exports)


def from_torch(module, example_input, *, dataset=None, path=None, force=False, opset_version=17,
               calibration_samples=1000):
    """Exports a PyTorch module through torch.onnx (batch axis dynamic) and loads it.

    example_input: a tensor (or numpy array) of shape (N, *input_shape); dataset: the dataset
    to calibrate for (needed by evaluate, energy, search, learn_precision and the noisy modes
    of infer); path: where to keep the .onnx (default: a temporary folder removed when Python
    exits; an existing file is overwritten only with force=True). Needs PyTorch (Debian:
    python3-torch)."""
    try:
        import torch
    except ImportError:
        raise ImportError("lumac.from_torch needs PyTorch (Debian: apt-get install "
                          "python3-torch)") from None
    if not isinstance(example_input, torch.Tensor):
        example_input = torch.as_tensor(np.asarray(example_input, dtype=np.float32))
    if path is not None and os.path.exists(path) and not force:
        raise FileExistsError(f"'{os.fspath(path)}' already exists; pass force=True to overwrite "
                              "it")
    if path is None:
        folder = tempfile.mkdtemp(prefix="lumac-torch-")
        _torch_exports.append(folder)
        path = os.path.join(folder, "model.onnx")
    path = os.fspath(path)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            torch.onnx.export(module, example_input, path,
                              opset_version=_integer("opset_version", opset_version),
                              input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    finally:
        module.train(was_training)
    return load_model(path, dataset=dataset, calibration_samples=calibration_samples)
