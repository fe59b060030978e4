from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from scalewall._errors import CatalogFileError, UnknownCatalogEntry
from scalewall.arch import n_params
from scalewall.catalog import get_catalog, load_catalog

REQUIRED_ACCELERATORS = [
    "v100-sxm2-32gb", "a100-sxm4-40gb", "a100-sxm4-80gb", "h100-sxm", "h800", "h200-sxm",
    "b200", "gb200", "mi250x", "mi300x", "mi325x", "tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e",
    "trainium1", "trainium2", "inferentia2", "gaudi2", "gaudi3", "groq-lpu", "cerebras-wse-3",
]
REQUIRED_MODELS = [
    "gpt-3-125m", "gpt-3-175b", "megatron-1t", "gopher-280b", "chinchilla-70b", "palm-540b",
    "bloom-176b", "opt-175b", "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b",
    "llama-3.1-70b", "llama-3.1-405b", "mistral-7b", "mixtral-8x7b", "mixtral-8x22b",
    "deepseek-v3", "qwen2.5-7b", "qwen2.5-72b", "olmo-2-7b", "olmo-2-13b",
]


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


@pytest.mark.parametrize("name", REQUIRED_ACCELERATORS)
def test_required_accelerators_present(cat, name):
    assert cat.accelerator(name).id == name


@pytest.mark.parametrize("name", REQUIRED_MODELS)
def test_required_models_present(cat, name):
    assert cat.model(name).id == name


def test_at_least_12_regions(cat):
    assert len(cat.regions) >= 12
    assert all(r.grid_g_per_j >= 0 for r in cat.regions.values())


def test_every_entry_has_a_source(cat):
    entries = [*cat.accelerators.values(), *cat.models.values(), *cat.regions.values(),
               *cat.pue_presets.values()]
    for e in entries:
        p = e.provenance
        assert p.source_url and p.source_title, e.id
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.retrieved), e.id
    for name, p in cat.defaults.sources.items():
        assert p.source_url and p.source_title, name


# Labels that are nominal sizes rather than rounded counts: Brown et al. 2020 call a model of
# 24 layers x 1024 (355.9M parameters with the 50,257-token vocabulary) "350M".
NOMINAL_LABELS = {"gpt-3-350m": 355.9e6}


def _label_tolerance(published: float) -> float:
    """1%, or half a unit in the second significant digit for two-digit labels such as
    '1.7B' (the label can only be trusted to +-0.05B)."""
    exponent = np.floor(np.log10(published))
    mantissa = published / 10**exponent
    two_digit = abs(mantissa * 10 - round(mantissa * 10)) < 1e-9
    half_unit = 0.5 * 10 ** (exponent - 1)
    return max(0.01, half_unit / published if two_digit else 0.0)


def test_published_parameter_counts(cat):
    """Counts from the architecture match the published figure within 1% (or within the
    precision of a two-digit label)."""
    checked = 0
    for m in cat.models.values():
        if m.published_params is None:
            continue
        published = NOMINAL_LABELS.get(m.id, m.published_params)
        got = n_params(m)
        assert got == pytest.approx(published, rel=_label_tolerance(m.published_params)), (
            m.id, got)
        checked += 1
    assert checked >= 30


def test_units_are_si(cat):
    h100 = cat.accelerator("h100-sxm")
    assert h100.peak("bf16") == pytest.approx(989.4e12, rel=0.01)  # dense, not 2:4 sparse
    assert h100.memory_bytes == pytest.approx(81_559 * 2**20, rel=1e-4)  # the driver's MiB
    assert h100.memory_bandwidth_bytes_per_s == pytest.approx(3.35e12)
    assert h100.scale_up_bytes_per_s == pytest.approx(450e9)  # per direction


def test_aliases_and_close_matches(cat):
    assert cat.accelerator("H100").id == "h100-sxm"
    with pytest.raises(UnknownCatalogEntry) as err:
        cat.model("llama-3.1-450b")
    assert "llama-3.1-405b" in str(err.value)


def test_efficiency_per_precision_overrides_the_chip_s(cat):
    b300 = cat.accelerator("b300")
    assert b300.matmul_efficiency_at("fp4") == 0.39
    assert b300.matmul_efficiency_at("bf16") == b300.matmul_efficiency == 0.739


def test_missing_precision_is_named(cat):
    with pytest.raises(Exception, match="'fp8' is not supported by a100-sxm4-80gb; it has: bf16"):
        cat.accelerator("a100-sxm4-80gb").peak("fp8")


def test_user_catalog_adds_and_overrides(tmp_path: Path, monkeypatch):
    extra = tmp_path / "mine.toml"
    extra.write_text(
        '[accelerators.my-chip]\nname = "My chip"\nkind = "asic"\n'
        'peak_tflop_per_s = { bf16 = 500 }\nmemory_gb = 64\nmemory_bandwidth_tb_per_s = 2\n'
        'source_url = "https://example.org"\nsource_title = "spec"\nretrieved = "2026-01-01"\n'
    )
    monkeypatch.setenv("SCALEWALL_CATALOG", str(extra))
    assert get_catalog().accelerator("my-chip").memory_bytes == 64e9


PROVENANCE = 'source_url = "u"\nsource_title = "t"\nretrieved = "2026-01-01"\n'
ACCEL = ('[accelerators.x]\nname = "X"\nkind = "gpu"\npeak_tflop_per_s = { bf16 = 1 }\n'
         "memory_gb = 80\nmemory_bandwidth_tb_per_s = 1\n" + PROVENANCE)
BY_PRECISION = "matmul_efficiency_by_precision = "
MODEL = ('[models.m]\nname = "m"\nn_layers = 2\nhidden_size = 64\nn_heads = 4\n'
         "ffn_size = 256\nvocab_size = 100\n" + PROVENANCE)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (ACCEL.replace('name = "X"', "name = 1"), "name: must be a string"),
        (ACCEL.replace("memory_gb = 80", "memory_gb = -80"), "memory_gb: must be > 0, got -80"),
        (ACCEL.replace("memory_gb = 80", "memory_gb = 80\nmemory_bandwidth_efficiency = 1.2"),
         "memory_bandwidth_efficiency: must be <= 1"),
        (ACCEL.replace("memory_gb = 80", f"memory_gb = 80\n{BY_PRECISION}{{ fp4 = 0.4 }}"),
         "matmul_efficiency_by_precision.fp4: must name a precision in peak_tflop_per_s (bf16)"),
        (ACCEL.replace("memory_gb = 80", f"memory_gb = 80\n{BY_PRECISION}{{ bf16 = 1.5 }}"),
         "matmul_efficiency_by_precision.bf16: must be a number in (0, 1], got 1.5"),
        (MODEL.replace("n_layers = 2", "n_layers = -2"), "n_layers: must be an integer >= 1"),
        (MODEL.replace("n_heads = 4", "n_heads = 4\nn_kv_heads = 3"),
         "n_kv_heads must divide n_heads=4, got 3"),
        ("[accelerators.x\n", "not valid TOML"),
        ('[widgets.x]\nname = "x"\n', "unknown sections"),
        ('[regions.r]\nname = "r"\ngrid_g_per_kwh = "high"\n', "grid_g_per_kwh: must be a number"),
    ],
)
def test_bad_catalog_files_name_the_field(tmp_path: Path, body: str, message: str):
    bad = tmp_path / "bad.toml"
    bad.write_text(body)
    with pytest.raises(CatalogFileError, match=re.escape(message)):
        load_catalog([bad])
