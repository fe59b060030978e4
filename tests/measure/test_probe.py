from __future__ import annotations

import statistics
import sys
import time
import types

import pytest

torch = pytest.importorskip("torch")

from scalewall.arch import model_flop_per_token  # noqa: E402
from scalewall.measure import Probe, compare_run, open_registry  # noqa: E402
from scalewall.measure.adapters import hf_callback  # noqa: E402
from scalewall.measure.probe import probe_overhead  # noqa: E402
from tests.measure.fake_nvml import make_fake_nvml  # noqa: E402
from tests.measure.tiny_gpt import build_model, tiny_arch  # noqa: E402

BATCH, SEQ = 4, 32


@pytest.fixture(autouse=True)
def one_thread():
    """Two OpenMP threads on a loaded two-core runner make step times erratic."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    arch = tiny_arch(seq=SEQ)
    model = build_model(arch)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, arch.vocab_size, (BATCH, SEQ))  # (b, s)

    def train_step():
        loss = model(x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return arch, train_step


def test_probe_records_steps_flop_mfu_and_nvml_energy(setup):
    arch, train_step = setup
    notes = []
    nvml = make_fake_nvml(power_w=300.0)
    with Probe(arch=arch, seq_len=SEQ, device="cpu", nvml=nvml, peak_flop_per_s=1e11,
               warmup_steps=1, on_notice=notes.append) as probe:
        for _ in range(6):
            with probe.step(n_tokens=BATCH * SEQ):
                train_step()
    s = probe.summary()
    assert notes == ["no CUDA GPU: timing only (no peak memory)"]
    assert len(probe.steps) == 6 and s.n_steps == 5 and s.n_warmup_steps == 1
    assert s.n_tokens == 5 * BATCH * SEQ
    fpt = model_flop_per_token(arch, SEQ)
    assert s.model_flop_per_token == pytest.approx(fpt)
    assert s.model_flop_per_s == pytest.approx(fpt * s.n_tokens / s.duration_s)
    assert s.mfu == pytest.approx(s.model_flop_per_s / 1e11)
    assert s.step_s == pytest.approx(statistics.median(r.duration_s for r in probe.steps[1:]))
    assert s.peak_memory_bytes is None
    assert s.energy_method == "counter"
    assert s.power_w == pytest.approx(300.0, rel=0.2)
    assert s.energy_j_per_token == pytest.approx(s.energy_j / s.n_tokens)
    assert nvml.state["init"] == 0


def test_power_sampling_fallback(setup):
    arch, train_step = setup
    notes = []
    with Probe(arch=arch, seq_len=SEQ, device="cpu", nvml=make_fake_nvml(counter=False),
               power_interval_s=0.005, on_notice=notes.append) as probe:
        for _ in range(4):
            with probe.step(n_tokens=BATCH * SEQ):
                train_step()
                time.sleep(0.01)
    s = probe.summary()
    assert s.energy_method == "power"
    assert s.power_w == pytest.approx(300.0, rel=0.3)
    assert len(notes) == 2  # the power-sampling line and the no-CUDA line


def test_without_nvml_or_gpu_timing_only_with_one_line(setup, monkeypatch):
    arch, train_step = setup
    import scalewall.measure.energy as energy

    monkeypatch.setattr(energy, "_load_nvml", lambda: (_ for _ in ()).throw(ImportError()))
    notes = []
    with Probe(arch=arch, seq_len=SEQ, on_notice=notes.append) as probe:
        for _ in range(3):
            probe.on_step_begin()  # the callback form
            train_step()
            probe.on_step_end(n_tokens=BATCH * SEQ)
    s = probe.summary()
    assert notes == ["no CUDA GPU: timing only (no peak memory, no GPU energy)"]
    assert s.energy_j is None and s.energy_j_per_token is None and s.mfu is None
    assert s.tokens_per_s > 0


def test_flop_cross_check_against_pytorch_counter(setup):
    """The architecture's 6N + 12Lsh against FlopCounterMode on the same step. The math SDPA
    path decomposes attention into matmuls the counter sees (CPU's fused kernel it does not);
    it counts the causal scores unhalved, as PaLM's 12Lsh does."""
    arch, train_step = setup
    from torch.nn.attention import SDPBackend, sdpa_kernel

    probe = Probe(arch=arch, seq_len=SEQ, device="cpu", energy=False, on_notice=lambda m: None)
    with sdpa_kernel(SDPBackend.MATH):
        counted = probe.cross_check_flop(train_step, n_tokens=BATCH * SEQ)
    with probe:
        for _ in range(2):
            with probe.step(n_tokens=BATCH * SEQ):
                train_step()
    s = probe.summary()
    assert counted == s.counted_flop_per_token
    print(f"flop per token: architecture {s.model_flop_per_token:.0f}, counter {counted:.0f}")
    assert abs(s.flop_count_error) < 0.03


@pytest.mark.slow
def test_probe_overhead_under_one_percent(setup):
    """The probe's own cost per step is under 1% of a training step of the tiny CPU model.

    Timing-dependent, so opt-in (``--runslow``); ``benchmarks/probe_overhead.py`` prints the
    same figures."""
    arch, train_step = setup
    probe = Probe(arch=arch, seq_len=SEQ, device="cpu", energy=False, warmup_steps=0,
                  on_notice=lambda m: None).start()
    figures = probe_overhead(probe, train_step, n_tokens=BATCH * SEQ)
    assert figures["direct"] < 0.01
    assert figures["ab"] < 0.10


def test_save_then_report_against_the_planner(setup, tmp_path):
    arch, train_step = setup
    with Probe(arch=arch, seq_len=SEQ, device="cpu", energy=False, hardware="h200-sxm",
               on_notice=lambda m: None) as probe:
        for _ in range(3):
            with probe.step(n_tokens=BATCH * SEQ):
                train_step()
    with open_registry(tmp_path / "r.db") as reg:
        run_id = probe.save(reg, name="tiny", config={"micro_batch": BATCH, "recompute": "none",
                                                      "recipe": "pytorch"})
        run = reg.get_run(run_id)
        assert len(run["steps"]) == 3 and run["hardware"] == "h200-sxm"
        result = compare_run(run_id, registry=reg)
    rows = {r["metric"]: r for r in result["metrics"]}
    assert result["calibrated"] is False
    step = rows["step_s"]
    assert step["error"] == pytest.approx(step["predicted"] / step["measured"] - 1)
    assert rows["peak_memory_bytes"]["measured"] is None  # CPU: not measured
    assert rows["peak_memory_bytes"]["predicted"] > 0


def test_hf_trainer_adapter_drives_the_probe(monkeypatch):
    fake = types.ModuleType("transformers")

    class TrainerCallback:
        pass

    fake.TrainerCallback = TrainerCallback
    monkeypatch.setitem(sys.modules, "transformers", fake)
    probe = Probe(flop_per_token=10.0, device="cpu", energy=False, warmup_steps=0,
                  on_notice=lambda m: None)
    cb = hf_callback(probe, tokens_per_step=128)
    assert isinstance(cb, TrainerCallback)
    for _ in range(2):
        cb.on_step_begin(None, None, None)
        cb.on_step_end(None, None, None)
    cb.on_train_end(None, None, None)
    s = probe.summary()
    assert s.n_steps == 2 and s.n_tokens == 256 and s.model_flop_per_token == 10.0
