"""Result objects of the lumac Python module: a study's fields as items and attributes, and
``to_dict()``, which equals what the CLI prints with ``--json`` for the same call."""

import copy
from collections.abc import Mapping


class Result(Mapping):
    """The result of a lumac study.

    Its fields are items (``r["accuracy_mean"]``) and attributes (``r.accuracy_mean``), with the
    units in their names (``detected_optical_aJ_per_mac``, ``laser_power_W``); ``to_dict()`` is
    the same dictionary as the CLI's ``--json`` output for the same arguments.
    """

    def __init__(self, kind, data):
        self._kind = kind
        self._data = data

    def to_dict(self):
        """A deep copy of the fields, as the CLI's --json gives them."""
        return copy.deepcopy(self._data)

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __getattr__(self, name):
        data = self.__dict__.get("_data")
        if data is not None and name in data:
            return data[name]
        raise AttributeError(f"{type(self).__name__} '{self.__dict__.get('_kind')}' has no field "
                             f"'{name}' (fields: {', '.join(data or [])})")

    def __repr__(self):
        fields = ", ".join(list(self._data)[:8])
        more = ", ..." if len(self._data) > 8 else ""
        return f"<lumac {self._kind} result: {fields}{more}>"


class ArrayResult(Result):
    """A result with numpy arrays beside its JSON fields: ``r.arrays``, and each array as an
    attribute and an item of its name (``trace.time_s``, ``sweep["accuracy"]``). Iterating and
    ``to_dict()`` cover the JSON fields only."""

    def __init__(self, kind, data, arrays):
        super().__init__(kind, data)
        self.arrays = arrays

    def __getitem__(self, key):
        if key in self._data:
            return self._data[key]
        return self.arrays[key]

    def __getattr__(self, name):
        arrays = self.__dict__.get("arrays")
        if arrays is not None and name in arrays:
            return arrays[name]
        data = self.__dict__.get("_data") or {}
        if name in data:
            return data[name]
        raise AttributeError(f"{type(self).__name__} has no field or array '{name}' (fields: "
                             f"{', '.join(data)}; arrays: {', '.join(arrays or [])})")


class Trace(ArrayResult):
    """A time-domain trace of one dot product (lumac trace).

    Arrays, one value per recorded sample: ``time_s`` (s), ``drive_signal_V`` and
    ``drive_lo_V`` (V, DAC outputs), ``modulator_signal_V`` and ``modulator_lo_V`` (V, after
    the modulator's RC response), ``power_signal_W`` and ``power_lo_W`` (W at the detector),
    ``current_plus_A`` and ``current_minus_A`` (A, diode currents with noise), ``charge_C``
    (C, integrator charge), ``laser_power_W`` (W); per read-out: ``readout_charge_C`` (C),
    ``window_open_s`` and ``window_close_s`` (s), ``adc_codes`` (-1 with the ADC off); the
    dot product's ``x`` and ``w``. Fields: ``ideal`` (x . w), ``readout`` (its read-out, same
    units), ``expected_statistical``, ``samples``, ``readouts``, ``out``.
    """


class Sweep(ArrayResult):
    """A sweep over config keys (lumac sweep).

    ``axes``: {key: values} in grid order (the first axis slowest). Arrays over the grid:
    ``accuracy`` (grid..., seeds; network sweeps), ``enob`` (grid..., layers; bits),
    ``detected_optical_aJ_per_mac``, ``laser_optical_aJ_per_mac``, ``total_aJ_per_mac``
    (grid; aJ per MAC), ``energy_components_aJ_per_mac`` (grid..., components, named by
    ``energy_component_names``), and the extra ENOBs of circuit sweeps (``enob_monte_carlo``,
    ``enob_time_domain``). ``to_dict()`` is the CLI's --json (one entry per point).
    """

    @property
    def axes(self):
        return self.arrays["axes"]
