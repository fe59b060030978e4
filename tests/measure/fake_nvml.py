"""A stand-in for ``pynvml`` (nvidia-ml-py) that follows its interface, errors included.

Real pynvml: ``NVMLError(value)`` is an ``Exception`` whose ``__new__`` returns the subclass
registered for the error code (``NVMLError_NotSupported`` for ``NVML_ERROR_NOT_SUPPORTED``,
3), ``str()`` gives the driver's message; ``nvmlDeviceGetTotalEnergyConsumption`` returns
millijoules since the driver loaded (unsigned 64-bit) and ``nvmlDeviceGetPowerUsage``
milliwatts.
"""

from __future__ import annotations

import time
import types
from typing import Any, ClassVar

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_LIBRARY_NOT_FOUND = 12
_MESSAGES = {1: "Uninitialized", 2: "Invalid Argument", 3: "Not Supported",
             12: "NVML Shared Library Not Found"}


class NVMLError(Exception):
    _value_class_mapping: ClassVar[dict[int, type]] = {}

    def __new__(cls, value: int) -> NVMLError:
        if cls is NVMLError:
            cls = NVMLError._value_class_mapping.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init__(self, value: int) -> None:
        self.value = value

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"Unknown Error {self.value}")


class NVMLError_NotSupported(NVMLError):
    pass


class NVMLError_LibraryNotFound(NVMLError):
    pass


NVMLError._value_class_mapping = {NVML_ERROR_NOT_SUPPORTED: NVMLError_NotSupported,
                                  NVML_ERROR_LIBRARY_NOT_FOUND: NVMLError_LibraryNotFound}


def make_fake_nvml(*, power_w: float = 300.0, counter: bool = True, power: bool = True,
                   start_mj: int = 123_456_789, driver: bool = True,
                   readings: list[int] | None = None) -> Any:
    """A pynvml-like module for one GPU drawing ``power_w`` watts.

    ``counter=False`` / ``power=False`` make those queries raise ``NVMLError_NotSupported``;
    ``driver=False`` makes ``nvmlInit`` raise as on a machine without the NVIDIA driver;
    ``readings`` replaces the counter by a scripted sequence of values (wraps, resets).
    """
    mod = types.ModuleType("pynvml")
    state = {"init": 0, "t0": time.perf_counter(), "calls": 0}
    script = list(readings) if readings is not None else None

    def nvmlInit() -> None:
        if not driver:
            raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND)
        state["init"] += 1

    def nvmlShutdown() -> None:
        if state["init"] == 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        state["init"] -= 1

    def nvmlDeviceGetHandleByIndex(index: int) -> object:
        if state["init"] == 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        if index != 0:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return ("handle", index)

    def nvmlDeviceGetTotalEnergyConsumption(handle: object) -> int:
        state["calls"] += 1
        if not counter:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        if script is not None:
            return script.pop(0)
        elapsed = time.perf_counter() - state["t0"]
        return (start_mj + int(power_w * elapsed * 1e3)) % 2**64

    def nvmlDeviceGetPowerUsage(handle: object) -> int:
        state["calls"] += 1
        if not power:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return int(power_w * 1e3)

    for name, value in dict(
        NVMLError=NVMLError, NVMLError_NotSupported=NVMLError_NotSupported,
        NVMLError_LibraryNotFound=NVMLError_LibraryNotFound,
        NVML_ERROR_NOT_SUPPORTED=NVML_ERROR_NOT_SUPPORTED, nvmlInit=nvmlInit,
        nvmlShutdown=nvmlShutdown, nvmlDeviceGetHandleByIndex=nvmlDeviceGetHandleByIndex,
        nvmlDeviceGetTotalEnergyConsumption=nvmlDeviceGetTotalEnergyConsumption,
        nvmlDeviceGetPowerUsage=nvmlDeviceGetPowerUsage, state=state,
    ).items():
        setattr(mod, name, value)
    return mod
