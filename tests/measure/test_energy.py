from __future__ import annotations

import time

import pytest

from scalewall.measure.energy import EnergyMeter, counter_delta_mj, open_energy_meter
from tests.measure.fake_nvml import NVMLError, NVMLError_NotSupported, make_fake_nvml


def test_fake_follows_pynvml_error_mapping():
    err = NVMLError(3)
    assert isinstance(err, NVMLError_NotSupported) and str(err) == "Not Supported"


def test_counter_meter_reads_energy():
    notes = []
    nvml = make_fake_nvml(power_w=250.0)
    meter = open_energy_meter(0, nvml=nvml, on_notice=notes.append)
    assert meter is not None and meter.method == "counter" and notes == []
    time.sleep(0.2)
    energy = meter.read_j()
    meter.close()
    assert energy == pytest.approx(250.0 * 0.2, rel=0.5)
    assert nvml.state["init"] == 0  # shut down again


def test_counter_wrap_and_reset():
    # start near the top of the 64-bit counter, wrap, then the driver reloads (reset to 0)
    readings = [2**64 - 1_000, 2**64 - 400, 600, 1_100, 50]
    meter = EnergyMeter(make_fake_nvml(readings=readings), ("handle", 0), method="counter")
    assert meter.read_j() == pytest.approx(0.6)  # 600 mJ
    assert meter.read_j() == pytest.approx(1.6)  # across the wrap: +1000 mJ
    assert meter.read_j() == pytest.approx(2.1)
    assert meter.read_j() == pytest.approx(2.15)  # reset: 50 mJ since the restart
    assert counter_delta_mj(10, 10) == 0


def test_falls_back_to_power_sampling_when_counter_not_supported():
    notes = []
    nvml = make_fake_nvml(power_w=400.0, counter=False)
    meter = open_energy_meter(0, nvml=nvml, interval_s=0.01, on_notice=notes.append)
    assert meter is not None and meter.method == "power"
    assert len(notes) == 1 and "power sampled every 10 ms" in notes[0]
    time.sleep(0.2)
    energy = meter.read_j()
    meter.close()
    assert energy == pytest.approx(400.0 * 0.2, rel=0.5)
    assert meter.n_samples > 3


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"counter": False, "power": False}, "neither an energy counter nor power"),
    ({"driver": False}, "NVML unavailable (NVML Shared Library Not Found)"),
])
def test_no_energy_gives_one_notice_and_none(kwargs, words):
    notes = []
    assert open_energy_meter(0, nvml=make_fake_nvml(**kwargs), on_notice=notes.append) is None
    assert len(notes) == 1 and words in notes[0]


def test_missing_pynvml_module(monkeypatch):
    import scalewall.measure.energy as energy

    def missing():
        raise ImportError("No module named 'pynvml'")

    monkeypatch.setattr(energy, "_load_nvml", missing)
    notes = []
    assert energy.open_energy_meter(0, on_notice=notes.append) is None
    assert notes == ["no NVML (pip install nvidia-ml-py): GPU energy is not measured"]
