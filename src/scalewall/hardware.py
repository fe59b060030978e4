"""Accelerators, regions and datacentre presets as frozen records in SI units."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scalewall._errors import InvalidParameter
from scalewall.arch.model import Provenance

__all__ = ["Accelerator", "PlannerDefaults", "PuePreset", "Region"]


@dataclass(frozen=True)
class Accelerator:
    """One accelerator (GPU, TPU chip, Trainium, LPU ...), all figures per device, in SI units."""

    id: str
    name: str
    vendor: str
    kind: str
    year: int
    peak_flop_per_s: Mapping[str, float]  # dense, per precision
    memory_bytes: float
    memory_bandwidth_bytes_per_s: float
    dma_bytes_per_s: float | None = None  # aggregate rate of the engines that move HBM data
    memory_bandwidth_efficiency: float | None = None  # measured share; default the planner's
    sram_bytes: float = 0.0
    scale_up_bytes_per_s: float = 0.0  # per direction
    scale_up_efficiency: float | None = None  # measured share of it; default the planner's
    scale_up_domain: int = 1
    scale_out_bytes_per_s: float = 0.0  # per direction
    devices_per_node: int = 1
    collective_latency_s: float | None = None  # per collective step; default the planner's
    n_compute_units: int | None = None
    matmul_efficiency: float | None = None
    # measured share of one precision's peak, where it differs from matmul_efficiency's
    matmul_efficiency_by_precision: Mapping[str, float] = field(default_factory=dict)
    attention_efficiency: float | None = None
    tdp_w: float | None = None
    idle_w: float | None = None
    price_usd: float | None = None
    cloud_usd_per_hour: float | None = None
    aliases: tuple[str, ...] = ()
    provenance: Provenance = field(default_factory=Provenance)

    def peak(self, precision: str) -> float:
        """Dense peak rate for a precision [FLOP/s]; an error names the ones the chip has."""
        try:
            return self.peak_flop_per_s[precision]
        except KeyError:
            have = ", ".join(sorted(self.peak_flop_per_s)) or "no published dense rate"
            raise InvalidParameter(
                f"precision {precision!r} is not supported by {self.id}; it has: {have}"
            ) from None

    def matmul_efficiency_at(self, precision: str) -> float | None:
        """Measured share of ``precision``'s dense peak a large GEMM reaches: the
        precision's own figure where the catalog has one, else ``matmul_efficiency`` (None:
        no measurement, the planner's default applies)."""
        return self.matmul_efficiency_by_precision.get(precision, self.matmul_efficiency)

    @property
    def label(self) -> str:
        return self.name or self.id

    def idle_power_w(self, idle_fraction_of_tdp: float) -> float:
        """Idle power [W]: the catalog's figure, else the planner's share of the TDP (0 W
        for a chip with neither)."""
        if self.idle_w is not None:
            return self.idle_w
        return idle_fraction_of_tdp * (self.tdp_w or 0.0)


@dataclass(frozen=True)
class Region:
    """A grid region: carbon intensity and electricity price."""

    id: str
    name: str
    grid_g_per_j: float  # gCO2e per joule
    electricity_usd_per_j: float | None
    year: int | None = None
    provenance: Provenance = field(default_factory=Provenance)


@dataclass(frozen=True)
class PuePreset:
    id: str
    pue: float
    provenance: Provenance = field(default_factory=Provenance)


@dataclass(frozen=True)
class PlannerDefaults:
    """Planner constants that are not properties of one chip, each sourced in defaults.toml."""

    matmul_efficiency: float
    memory_bandwidth_efficiency: float
    scale_up_efficiency: float
    scale_out_efficiency: float
    collective_latency_s: float
    kernel_launch_s: float
    wave_overhead_s: float
    attention_efficiency: float
    idle_fraction_of_tdp: float
    host_power_fraction_of_tdp: float
    goodput: float
    framework_reserved_bytes: float
    fragmentation_fraction: float
    hardware_lifetime_s: float
    capex_overhead_factor: float
    default_pue: float
    default_region: str
    sustained_compute_fraction: float
    memory_bound_power_fraction: float = 1.0
    request_overhead_s: float = 0.0
    host_time_per_sequence_s: float = 0.0
    ridge_exponent: float = float("inf")  # p of the GEMM's smooth max; inf: the plain max
    max_tokens_per_iteration: float = float("inf")  # an engine's tokens per forward pass
    sources: Mapping[str, Provenance] = field(default_factory=dict)
