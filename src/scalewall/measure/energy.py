"""GPU energy from NVML: the total-energy counter, or power sampled in a thread.

NVIDIA's driver keeps, per GPU since Volta, a counter of the energy the board has used since
the driver was loaded, in millijoules (``nvmlDeviceGetTotalEnergyConsumption``). Energy over
an interval is the difference of two reads; it costs one driver call per read and misses no
transient. Where the counter is not supported (older GPUs, some virtualised ones) the meter
falls back to sampling board power (``nvmlDeviceGetPowerUsage``, milliwatts) in a background
thread and integrating it by the trapezoid rule, which misses transients shorter than the
sampling interval. Zeus (You et al. 2023) measures the same way.

References
----------
.. [1] NVIDIA, "NVML API Reference: Device Queries" (nvmlDeviceGetTotalEnergyConsumption,
   nvmlDeviceGetPowerUsage), https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
.. [2] J. You, J.-W. Chung, M. Chowdhury, "Zeus: Understanding and Optimizing GPU Energy
   Consumption of DNN Training", NSDI 2023, arXiv:2208.06102.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["EnergyMeter", "counter_delta_mj", "open_energy_meter"]

#: The counter is an ``unsigned long long``: it wraps at 2**64 mJ (about 585 million years at
#: 1 kW, so in practice a decrease means the driver was reloaded and the count restarted).
_COUNTER_MODULUS = 2**64


def counter_delta_mj(previous_mj: int, current_mj: int) -> int:
    """Energy between two reads of NVML's total-energy counter [mJ], across a wrap or reset.

    A read lower than the previous one is a wrap when the previous read was in the top half
    of the counter's range (``current + 2**64 - previous``); otherwise the driver was reloaded
    and the counter restarted from zero, so the energy since the restart is ``current``.

    Examples
    --------
    >>> counter_delta_mj(1_000, 1_500)
    500
    >>> counter_delta_mj(2**64 - 100, 50)
    150
    >>> counter_delta_mj(5_000, 40)
    40
    """
    if current_mj >= previous_mj:
        return current_mj - previous_mj
    if previous_mj >= _COUNTER_MODULUS // 2:
        return current_mj + _COUNTER_MODULUS - previous_mj
    return current_mj


class EnergyMeter:
    """Energy one GPU has used since the meter started [J]; see :func:`open_energy_meter`.

    ``method`` is ``"counter"`` (NVML total-energy counter) or ``"power"`` (sampled power).
    """

    def __init__(self, nvml: Any, handle: Any, *, method: str, interval_s: float = 0.05,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._nvml, self._handle, self.method = nvml, handle, method
        self._clock = clock
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if method == "counter":
            self._last_mj = int(nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
            self._total_mj = 0
        else:
            self._energy_j = 0.0
            self._t_last = clock()
            self._p_last_w = float(nvml.nvmlDeviceGetPowerUsage(handle)) / 1e3
            self.n_samples = 1
            self._thread = threading.Thread(target=self._sample_loop, name="scalewall-power",
                                            daemon=True)
            self._thread.start()

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        try:
            power_w = float(self._nvml.nvmlDeviceGetPowerUsage(self._handle)) / 1e3
        except self._nvml.NVMLError:
            return  # a missed sample; the trapezoid spans the gap
        now = self._clock()
        with self._lock:
            self._energy_j += 0.5 * (power_w + self._p_last_w) * (now - self._t_last)
            self._t_last, self._p_last_w = now, power_w
            self.n_samples += 1

    def read_j(self) -> float:
        """Energy since the meter started [J]."""
        if self.method == "counter":
            current = int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))
            with self._lock:
                self._total_mj += counter_delta_mj(self._last_mj, current)
                self._last_mj = current
                return self._total_mj / 1e3
        with self._lock:
            # the last sample's power held until now
            return self._energy_j + self._p_last_w * (self._clock() - self._t_last)

    def close(self) -> None:
        """Stop the sampling thread (if any)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        try:  # nvmlInit/nvmlShutdown are reference-counted by the library
            self._nvml.nvmlShutdown()
        except Exception:
            pass


def _load_nvml() -> Any:
    return importlib.import_module("pynvml")


def open_energy_meter(
    device_index: int = 0, *, nvml: Any = None, interval_s: float = 0.05,
    on_notice: Callable[[str], None] | None = None,
) -> EnergyMeter | None:
    """An energy meter for GPU ``device_index``, or ``None`` where NVML cannot measure it.

    Parameters
    ----------
    device_index : NVML index of the GPU.
    nvml : a module with pynvml's interface (``nvidia-ml-py``); default ``import pynvml``.
    interval_s : [s] power sampling interval of the fallback.
    on_notice : called with one line when energy degrades (power sampling) or is unavailable.

    Notes
    -----
    The counter is tried first; ``NVMLError_NotSupported`` from it selects power sampling,
    and from both means no energy. Any other NVML error (no driver, no such GPU) means no
    energy. Neither raises: measurement goes on with timing only.
    """
    say = on_notice or (lambda _msg: None)
    if nvml is None:
        try:
            nvml = _load_nvml()
        except ImportError:
            say("no NVML (pip install nvidia-ml-py): GPU energy is not measured")
            return None
    try:
        nvml.nvmlInit()
        handle = nvml.nvmlDeviceGetHandleByIndex(device_index)
    except nvml.NVMLError as exc:
        say(f"NVML unavailable ({exc}): GPU energy is not measured")
        return None
    not_supported = getattr(nvml, "NVMLError_NotSupported", nvml.NVMLError)
    try:
        return EnergyMeter(nvml, handle, method="counter")
    except not_supported:
        pass
    except nvml.NVMLError as exc:
        say(f"NVML energy counter failed ({exc}): GPU energy is not measured")
        return None
    try:
        meter = EnergyMeter(nvml, handle, method="power", interval_s=interval_s)
    except nvml.NVMLError as exc:
        say(f"this GPU reports neither an energy counter nor power ({exc}): GPU energy is "
            f"not measured")
        return None
    say(f"this GPU has no NVML energy counter: energy from power sampled every "
        f"{interval_s * 1e3:.0f} ms")
    return meter
