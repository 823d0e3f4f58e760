"""lumac.Config: presets, keys with the CLI's validation and messages."""

import pytest

import lumac
from conftest import cli_error, cli_json


def test_default_preset_and_keys():
    cfg = lumac.Config()
    assert cfg.file.endswith("homodyne_1550.toml")
    assert "laser.power_W" in cfg
    assert "laser.nonsense" not in cfg
    d = cfg.describe("laser.power_W")
    assert d["unit"] == "W" and d["kind"] == "real" and d["value"] == cfg["laser.power_W"]
    assert set(cfg.to_dict()) == set(cfg.keys())
    assert "homodyne_1550" in lumac.presets()
    assert "[laser]" in cfg.to_toml()


def test_set_get_types_and_copy():
    cfg = lumac.Config("homodyne_1550")
    cfg["laser.power_W"] = 2e-3
    assert cfg["laser.power_W"] == 2e-3
    cfg["adc.bits"] = 6
    assert cfg["adc.bits"] == 6 and isinstance(cfg["adc.bits"], int)
    cfg["system.encoding"] = "norm-adaptive"
    assert cfg["system.encoding"] == "norm-adaptive"
    other = cfg.copy()
    other["laser.power_W"] = 5e-3
    assert cfg["laser.power_W"] == 2e-3
    # Setting a key again replaces its override.
    cfg["laser.power_W"] = 3e-3
    assert cfg.overrides.count("laser.power_W=0.003") == 1
    assert not any(o.startswith("laser.power_W=0.002") for o in cfg.overrides)


def test_unknown_key_names_nearest_like_the_cli():
    cfg = lumac.Config()
    with pytest.raises(ValueError) as e:
        cfg["laser.power_w"] = 1e-3
    assert str(e.value) == cli_error("devices", "--set", "laser.power_w=1e-3")
    assert "did you mean 'laser.power_W'" in str(e.value)
    with pytest.raises(ValueError, match="did you mean 'laser.power_W'"):
        cfg["laser.power_w"]


def test_bad_value_is_refused_and_leaves_config_unchanged():
    cfg = lumac.Config()
    before = cfg["laser.power_W"]
    with pytest.raises(ValueError) as e:
        cfg["laser.power_W"] = -1.0
    assert str(e.value) == cli_error("devices", "--set", "laser.power_W=-1.0")
    assert cfg["laser.power_W"] == before and cfg.overrides == []
    with pytest.raises(ValueError):
        cfg["laser.power_W"] = float("nan")
    with pytest.raises(TypeError, match="a bool, integer, float or string, not list"):
        cfg["laser.power_W"] = [1]


def test_missing_files_raise_oserror():
    with pytest.raises(OSError, match="no preset 'nonexistent'"):
        lumac.Config("nonexistent")
    with pytest.raises(OSError) as e:
        lumac.Config("/nonexistent/x.toml")
    assert str(e.value) == cli_error("devices", "--config", "/nonexistent/x.toml")


def test_devices_equal_the_cli():
    cfg = lumac.Config()
    cfg["laser.power_W"] = 2e-3
    assert lumac.devices(config=cfg) == cli_json("devices", "--set", "laser.power_W=2e-3")
    # A dict of overrides is a config too.
    assert lumac.devices(config={"laser.power_W": 2e-3}) == lumac.devices(config=cfg)
