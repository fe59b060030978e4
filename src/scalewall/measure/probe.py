"""Measure a training (or inference) loop step by step: time, tokens, FLOP, memory, energy.

Use it as a context manager around the loop and mark each step, either with ``with
probe.step(n_tokens=...)`` or with the callback pair ``on_step_begin()`` /
``on_step_end(n_tokens=...)``::

    arch = Architecture(n_layers=12, hidden_size=768, n_heads=12, ffn_size=3072,
                        vocab_size=50304, tied_embeddings=True, position="learned")
    with Probe(arch=arch, seq_len=1024, hardware="h200-sxm") as probe:
        for batch in loader:
            with probe.step(n_tokens=batch.numel()):
                loss = model(batch).loss
                loss.backward()
                opt.step()
                opt.zero_grad()
    print(probe.summary().to_dict())

Per step it records the wall time (after synchronizing the GPU, so the step's kernels are
in it), the tokens, the model FLOP (from the architecture: :math:`6N + 12Lsh` per token,
:func:`scalewall.arch.model_flop_per_token`), the peak memory PyTorch allocated during the
step (``torch.cuda.max_memory_allocated``) and the GPU energy (NVML's total-energy counter,
:mod:`scalewall.measure.energy`). Achieved FLOP/s and MFU follow. On a machine without a CUDA
GPU, or without NVML, it measures what it can and says so in one line.

Overhead: per step two clock reads, one device synchronize (a training step synchronizes
anyway when it reads its loss), a peak-memory reset and read, and one NVML call: microseconds
against steps of milliseconds. ``tests/measure`` measures it.
"""

from __future__ import annotations

import importlib
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from scalewall._errors import InvalidParameter, UnknownCatalogEntry
from scalewall.arch.counts import model_flop_per_token
from scalewall.arch.model import Architecture
from scalewall.catalog import Catalog, get_catalog
from scalewall.measure._common import MeasureError, notice
from scalewall.measure.device import describe_device, match_accelerator, nvml_index
from scalewall.measure.energy import EnergyMeter, open_energy_meter
from scalewall.measure.registry import Registry

__all__ = ["Probe", "RunSummary", "StepRecord", "count_flop"]


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One measured step (SI units). ``energy_j`` covers the time since the previous step
    ended (the first step: since the probe started)."""

    step: int
    duration_s: float
    n_tokens: float
    model_flop: float | None
    energy_j: float | None
    peak_memory_bytes: float | None


@dataclass(frozen=True)
class RunSummary:
    """A measured run, over the steps after warm-up (SI units; ``None`` where not measured).

    ``step_s`` is the median step; rates use the total time of the measured steps.
    """

    n_steps: int
    n_warmup_steps: int
    step_s: float
    step_s_mean: float
    step_s_p90: float
    duration_s: float
    n_tokens: float
    tokens_per_s: float
    model_flop_per_token: float | None
    model_flop_per_s: float | None
    peak_flop_per_s: float | None
    mfu: float | None
    peak_memory_bytes: float | None
    energy_j: float | None
    energy_j_per_token: float | None
    power_w: float | None
    energy_method: str | None
    counted_flop_per_token: float | None
    flop_count_error: float | None  # model_flop_per_token / counted - 1
    hardware: str | None
    device: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["device"] = dict(self.device)
        return out


def _import_torch_or_none() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def count_flop(fn: Callable[[], Any]) -> float | None:
    """FLOP that PyTorch's FLOP counter sees while ``fn()`` runs, or ``None`` without it.

    ``torch.utils.flop_counter.FlopCounterMode`` counts matrix multiplies and attention
    (forward and, if ``fn`` calls ``backward``, backward), the same operations the model count
    :math:`6N + 12Lsh` covers; it does not count recomputation unless ``fn`` recomputes.
    """
    torch = _import_torch_or_none()
    if torch is None:
        return None
    try:
        flop_counter = importlib.import_module("torch.utils.flop_counter")
    except ImportError:
        return None
    mode = flop_counter.FlopCounterMode(display=False)
    with mode:
        fn()
    return float(mode.get_total_flops())


class Probe:
    """Per-step measurement of a PyTorch loop; see the module docstring.

    Parameters
    ----------
    arch : the model's architecture, for model FLOP; or give ``flop_per_token``.
    seq_len : [tokens] sequence length (attention FLOP depend on it); default the model's.
    flop_per_token : [FLOP] model FLOP per token, overriding the architecture's count.
    training : count forward and backward (3x forward) FLOP; ``False`` for inference.
    hardware : catalog accelerator (for the peak FLOP/s behind MFU); default the one matching
        the GPU's name, none on a CPU.
    precision : the precision whose datasheet peak MFU divides by.
    peak_flop_per_s : [FLOP/s] overrides the catalog peak.
    device : ``"cuda"``, ``"cuda:1"``, ``"cpu"``; default CUDA where available.
    warmup_steps : first steps recorded but left out of the summary.
    energy : measure GPU energy with NVML.
    nvml : a pynvml-like module instead of ``import pynvml``; given explicitly it is used
        even when the loop runs on the CPU (GPU 0 is metered), which is how the tests run it.
    power_interval_s : [s] sampling interval of the power fallback.
    on_notice : where one-line notices go (default standard error).
    """

    def __init__(
        self,
        *,
        arch: Architecture | None = None,
        seq_len: int | None = None,
        flop_per_token: float | None = None,
        training: bool = True,
        hardware: str | None = None,
        precision: str = "bf16",
        peak_flop_per_s: float | None = None,
        device: str | None = None,
        warmup_steps: int = 1,
        energy: bool = True,
        nvml: Any = None,
        power_interval_s: float = 0.05,
        on_notice: Callable[[str], None] | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        if warmup_steps < 0:
            raise InvalidParameter(f"warmup_steps must be >= 0, got {warmup_steps}")
        self.arch, self.training, self.precision = arch, training, precision
        self.seq_len = seq_len if seq_len is not None else (arch.seq_len if arch else None)
        if flop_per_token is not None:
            self.flop_per_token: float | None = float(flop_per_token)
        elif arch is not None and self.seq_len is not None:
            self.flop_per_token = float(model_flop_per_token(arch, self.seq_len,
                                                             training=training))
        else:
            self.flop_per_token = None
        self.warmup_steps = warmup_steps
        self._say = on_notice or notice
        self._energy_wanted, self._nvml, self._interval = energy, nvml, power_interval_s
        self._catalog = catalog
        self._hardware, self._peak = hardware, peak_flop_per_s
        self._device_arg = device
        self.steps: list[StepRecord] = []
        self.counted_flop_per_token: float | None = None
        self.meter: EnergyMeter | None = None
        self.device_info: dict[str, Any] = {}
        self._torch: Any = None
        self._cuda: Any = None
        self._sync: Callable[[], None] = _nothing
        self._t0 = self._t_begin = 0.0
        self._index = 0
        self._started = False
        self._t_ends: list[float] = []
        self._e_last = 0.0

    # --- lifecycle ---
    def start(self) -> Probe:
        """Find the device, start the energy meter; called by ``with``."""
        if self._started:
            return self
        torch = _import_torch_or_none()
        self._torch = torch
        dev = None
        if torch is not None:
            want = self._device_arg or ("cuda" if torch.cuda.is_available() else "cpu")
            dev = torch.device(want)
            if dev.type == "cuda" and not torch.cuda.is_available():
                raise MeasureError(f"device {want!r} was asked for but CUDA is not available")
            self.device_info = describe_device(torch, dev)
        else:
            self.device_info = {"type": "cpu", "name": "cpu", "torch": None}
        if dev is not None and dev.type == "cuda":
            index = int(self.device_info["index"])
            cuda = torch.cuda
            self._cuda = cuda
            self._sync = lambda: cuda.synchronize(index)
            self._index = index
            if self._hardware is None:
                self._hardware = match_accelerator(str(self.device_info["name"]),
                                                   catalog=self._catalog)
            if self._energy_wanted:
                self.meter = open_energy_meter(nvml_index(index), nvml=self._nvml,
                                               interval_s=self._interval,
                                               on_notice=self._say)
        else:
            if self._energy_wanted and self._nvml is not None:
                self.meter = open_energy_meter(0, nvml=self._nvml, interval_s=self._interval,
                                               on_notice=self._say)
            self._say("no CUDA GPU: timing only (no peak memory"
                      + (")" if self.meter is not None else ", no GPU energy)"))
        if self._peak is None and self._hardware is not None:
            try:
                accel = (self._catalog or get_catalog()).accelerator(self._hardware)
                self._peak = accel.peak(self.precision)
            except (UnknownCatalogEntry, InvalidParameter) as exc:
                self._say(f"no peak FLOP/s for MFU: {exc}")
        self._started = True
        self._t0 = time.perf_counter()
        self._e_last = 0.0
        return self

    def stop(self) -> RunSummary | None:
        """Stop the energy meter; the summary, or ``None`` if no step was measured after
        warm-up (so leaving a ``with`` block on an exception never hides it). Called by
        ``with``."""
        if self.meter is not None:
            self.meter.close()
        self._started = False
        try:
            return self.summary()
        except MeasureError:
            return None

    def __enter__(self) -> Probe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- steps ---
    def on_step_begin(self) -> None:
        """Mark the start of a step (training-loop callback)."""
        if not self._started:
            self.start()
        self._sync()
        if self._cuda is not None:
            self._cuda.reset_peak_memory_stats(self._index)
        self._t_begin = time.perf_counter()

    def on_step_end(self, *, n_tokens: float) -> StepRecord:
        """Mark the end of a step of ``n_tokens`` tokens; its record."""
        self._sync()
        t_end = time.perf_counter()
        energy = None
        if self.meter is not None:
            total = self.meter.read_j()
            energy, self._e_last = total - self._e_last, total
        peak = (float(self._cuda.max_memory_allocated(self._index))
                if self._cuda is not None else None)
        fpt = self.flop_per_token
        record = StepRecord(len(self.steps), t_end - self._t_begin, float(n_tokens),
                            None if fpt is None else fpt * n_tokens, energy, peak)
        self.steps.append(record)
        self._t_ends.append(t_end)
        return record

    @contextmanager
    def step(self, *, n_tokens: float) -> Iterator[None]:
        """``with probe.step(n_tokens=b * s): ...`` measures one step."""
        self.on_step_begin()
        yield
        self.on_step_end(n_tokens=n_tokens)

    def cross_check_flop(self, fn: Callable[[], Any], *, n_tokens: float) -> float | None:
        """Run ``fn`` (one step, unmeasured) under PyTorch's FLOP counter; the counted FLOP per
        token, also reported in the summary beside the architecture's count."""
        counted = count_flop(fn)
        if counted is not None and n_tokens > 0:
            self.counted_flop_per_token = counted / n_tokens
        return self.counted_flop_per_token

    # --- results ---
    @property
    def hardware(self) -> str | None:
        return self._hardware

    def summary(self) -> RunSummary:
        """Figures over the steps after warm-up."""
        measured = self.steps[self.warmup_steps:]
        if not measured:
            raise MeasureError(
                f"no steps measured after the {self.warmup_steps} warm-up step(s) "
                f"({len(self.steps)} recorded); run more steps or lower warmup_steps")
        times = sorted(s.duration_s for s in measured)
        duration = sum(times)
        tokens = sum(s.n_tokens for s in measured)
        flop = (None if any(s.model_flop is None for s in measured)
                else sum(float(s.model_flop or 0.0) for s in measured))
        flop_s = None if flop is None else flop / duration
        peaks = [s.peak_memory_bytes for s in measured if s.peak_memory_bytes is not None]
        energies = [s.energy_j for s in measured]
        energy = None if any(e is None for e in energies) else sum(e or 0.0 for e in energies)
        # energy spans step end to step end: average power over that same span
        span = self._t_ends[-1] - self._t_ends[self.warmup_steps - 1] if self.warmup_steps \
            else self._t_ends[-1] - self._t0
        counted, fpt = self.counted_flop_per_token, self.flop_per_token
        return RunSummary(
            n_steps=len(measured), n_warmup_steps=min(self.warmup_steps, len(self.steps)),
            step_s=statistics.median(times), step_s_mean=duration / len(times),
            step_s_p90=times[min(len(times) - 1, int(0.9 * len(times)))],
            duration_s=duration, n_tokens=tokens, tokens_per_s=tokens / duration,
            model_flop_per_token=fpt, model_flop_per_s=flop_s,
            peak_flop_per_s=self._peak,
            mfu=None if flop_s is None or not self._peak else flop_s / self._peak,
            peak_memory_bytes=max(peaks) if peaks else None,
            energy_j=energy,
            energy_j_per_token=None if energy is None or not tokens else energy / tokens,
            power_w=None if energy is None or span <= 0 else energy / span,
            energy_method=None if self.meter is None else self.meter.method,
            counted_flop_per_token=counted,
            flop_count_error=None if counted is None or fpt is None else fpt / counted - 1.0,
            hardware=self._hardware, device=dict(self.device_info),
        )

    def save(self, registry: Registry, *, kind: str = "train", name: str = "",
             config: Mapping[str, Any] | None = None) -> int:
        """Store the run (summary, steps, configuration) in ``registry``; its id.

        ``config`` should hold the shape the planner needs to predict the run (see
        :func:`scalewall.measure.report.predict_run`): ``seq_len``, ``micro_batch``,
        ``recompute``, ``recipe`` for training; ``batch``, ``context`` for decoding.
        """
        summary = self.summary()
        cfg: dict[str, Any] = {"seq_len": self.seq_len, "precision": self.precision,
                               **dict(config or {})}
        if self.arch is not None and "arch" not in cfg:
            cfg["arch"] = asdict(self.arch)
        return registry.add_run(
            kind=kind, name=name, hardware=self._hardware,
            device=str(self.device_info.get("name")), config=cfg,
            summary=summary.to_dict(), steps=[asdict(s) for s in self.steps])


def _nothing() -> None:
    return None


def probe_overhead(probe: Probe, train_step: Callable[[], Any], *, n_tokens: int,
                   probe_calls: int = 2000, blocks: int = 12,
                   steps_per_block: int = 8) -> dict[str, float]:
    """The probe's cost on a training loop, measured two ways.

    ``direct``: the probe's own begin/end cost per step against the median step;
    ``ab``: interleaved (ABBA) blocks of steps with and without the probe, the median paired
    ratio minus one (noisy on a shared machine). Used by ``benchmarks/probe_overhead.py``.
    """
    import statistics
    import time

    start = time.perf_counter()
    for _ in range(probe_calls):
        probe.on_step_begin()
        probe.on_step_end(n_tokens=n_tokens)
    probe_cost_s = (time.perf_counter() - start) / probe_calls
    for _ in range(3):
        train_step()

    def block(with_probe: bool) -> float:
        t0 = time.perf_counter()
        for _ in range(steps_per_block):
            if with_probe:
                with probe.step(n_tokens=n_tokens):
                    train_step()
            else:
                train_step()
        return (time.perf_counter() - t0) / steps_per_block

    bare, probed = [], []
    for i in range(blocks):  # ABBA order, so drift and order effects cancel
        first = i % 2 == 0
        a = block(not first)
        b = block(first)
        bare.append(a if first else b)
        probed.append(b if first else a)
    step_s = statistics.median(bare)
    return {
        "probe_cost_s": probe_cost_s, "step_s": step_s, "direct": probe_cost_s / step_s,
        "ab": statistics.median(p / q for p, q in zip(probed, bare, strict=True)) - 1.0,
    }
