"""Unit constants: multiply a scaled value by one to get base SI units, divide to display.

Inside scalewall every quantity is in base units (bytes, FLOP, seconds, joules, watts, USD,
grams of CO2e) and its name says so. Scaled units exist only in catalog files and display code.
"""

from __future__ import annotations

KB = 1e3
MB = 1e6
GB = 1e9
TB = 1e12
KIB = 2.0**10
MIB = 2.0**20
GIB = 2.0**30
TIB = 2.0**40

TFLOP = 1e12
PFLOP = 1e15

MINUTE_S = 60.0
HOUR_S = 3600.0
DAY_S = 86400.0
YEAR_S = 365.25 * DAY_S

KWH_J = 3.6e6
MWH_J = 3.6e9
TONNE_G = 1e6

#: Bytes per element of each numeric precision.
BYTES_PER_ELEMENT = {
    "fp32": 4.0,
    "tf32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    # NVFP4: 4-bit (E2M1) values with one FP8 (E4M3) scale per block of 16 (NVIDIA,
    # "Introducing NVFP4 for Efficient and Accurate Low-Precision Inference", 2025)
    "fp4": 0.5 + 1.0 / 16.0,
    # MXFP4: 4-bit (E2M1) values with one 8-bit power-of-two (E8M0) scale per block of 32
    # (OCP Microscaling Formats (MX) Specification v1.0, 2023; gpt-oss, AMD CDNA 4)
    "mxfp4": 0.5 + 1.0 / 32.0,
}
PRECISIONS = tuple(BYTES_PER_ELEMENT)
