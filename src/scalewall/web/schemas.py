"""Request bodies of the JSON API: every field typed and bounded, unknown fields refused.

The bounds here are input validation (what a field may hold); computation caps that depend on
several fields together (layout candidates, rows, draws) are checked in :mod:`.routes` against
:class:`scalewall.web.limits.Limits`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CatalogName",
    "CompareRequest",
    "ConfigRequest",
    "ServeCompareRequest",
    "ServePlanRequest",
    "ServeRequest",
    "ServeSearchRequest",
    "TrainRequest",
    "ValidateRequest",
]

#: A catalog key (model, accelerator, region, PUE preset): letters, digits, ``. _ - +``.
CatalogName = Annotated[str, Field(min_length=1, max_length=80,
                                   pattern=r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$")]
_Degree = Annotated[int, Field(ge=1, le=65_536)]
# 1e18 tokens is 1,000 times the largest public text stock estimate (Villalobos et al. 2024).
_Tokens = Annotated[float, Field(gt=0, le=1e18)]
_MAX_DEVICES = 1_000_000
_Label = Annotated[str, Field(min_length=1, max_length=80)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class TrainRequest(_Strict):
    """A training run to plan: the fields of ``scalewall train``."""

    model: CatalogName | None = Field(
        default="llama-3.1-8b", description="Catalog model; ignored when hf_config is given.")
    hf_config: dict[str, Any] | None = Field(
        default=None,
        description="A Hugging Face config.json, parsed (JSON object); read as data only.")
    hf_name: _Label | None = Field(default=None, description="Name shown for hf_config.")
    hardware: CatalogName = Field(default="h100-sxm", description="Catalog accelerator.")
    devices: int | None = Field(
        default=1024, ge=1, le=_MAX_DEVICES,
        description="Devices; null: the smallest power of two that trains in about 90 days.")
    tokens: _Tokens | None = Field(
        default=None,
        description="Training tokens; null: the model's published count, else 20 per parameter.")
    seq_len: int | None = Field(default=None, ge=1, le=1_048_576,
                                description="Sequence length [tokens].")
    global_batch: int | None = Field(default=None, ge=1, le=16_777_216,
                                     description="Global batch [sequences].")
    tp: _Degree | None = None
    pp: _Degree | None = None
    dp: _Degree | None = None
    cp: _Degree | None = None
    ep: _Degree | None = None
    vpp: Annotated[int, Field(ge=1, le=64)] | None = None
    sp: bool | None = None
    micro_batch: Annotated[int, Field(ge=1, le=4096)] | None = None
    recompute: Literal["none", "selective", "full"] | None = None
    zero: Annotated[int, Field(ge=0, le=3)] | None = None
    flash: bool = Field(default=True, description="Fused (flash) attention.")
    dropout: bool | None = Field(
        default=None, description="Dropout in the layers; null: as the model family trains.")
    precision: Literal["bf16", "fp16", "fp8"] = "bf16"
    recipe: Literal["auto", "megatron", "pytorch"] = "auto"
    region: CatalogName | None = Field(default=None,
                                       description="Grid region (carbon, power price).")
    pue: Annotated[float, Field(ge=1.0, le=3.0)] | CatalogName | None = Field(
        default=None, description="Datacentre PUE: a number in [1, 3] or a preset name.")
    unique_tokens: _Tokens | None = Field(
        default=None, description="Unique tokens available; null: the public text stock.")
    goodput: Annotated[float, Field(gt=0.0, le=1.0)] | None = Field(
        default=None, description="Share of wall-clock time on productive steps; null: the "
        "catalog's planner constant.")
    objective: Literal["time", "cost", "energy"] = "time"
    top: int = Field(default=5, ge=1, le=50, description="Layouts listed from the search.")


class CompareRequest(TrainRequest):
    """One training run planned on several accelerators, each with its own best layout."""

    compare: list[CatalogName] = Field(
        default_factory=lambda: ["h100-sxm", "h200-sxm", "b200", "mi300x", "tpu-v5p",
                                 "trainium2", "gaudi3"],
        min_length=1, max_length=12, description="Accelerators to compare (at most 12).")


class _Speculative(_Strict):
    """Speculative decoding, for a planned deployment or every searched candidate."""

    speculative_tokens: int = Field(
        default=0, ge=0, le=16, description="Tokens drafted per decode step by a one-layer "
        "draft module (multi-token prediction, EAGLE) and verified in one step; 0: plain "
        "decoding. Needs `accepted_tokens` or `acceptance_rate`.")
    accepted_tokens: float | None = Field(
        default=None, ge=1.0, le=17.0, description="Mean tokens emitted per speculative step "
        "(1 to speculative_tokens + 1).")
    acceptance_rate: float | None = Field(
        default=None, ge=0.0, lt=1.0, description="Probability that a drafted token is "
        "accepted; tokens per step (1 - a^(k+1)) / (1 - a).")
    draft: CatalogName | None = Field(
        default=None, description="What drafts: module (one-layer draft module, default), "
        "ngram (prompt lookup), or a catalog model of the same vocabulary.")

    def speculative(self) -> dict[str, Any]:
        """The speculative-decoding keywords of ``plan_serving`` and ``search_serving``."""
        return {"speculative_tokens": self.speculative_tokens,
                "accepted_tokens": self.accepted_tokens,
                "acceptance_rate": self.acceptance_rate, "draft": self.draft}


class ServeRequest(_Speculative):
    """A serving deployment to plan: the fields of ``scalewall infer``."""

    model: CatalogName | None = "llama-3.1-70b"
    hf_config: dict[str, Any] | None = None
    hf_name: _Label | None = None
    hardware: CatalogName = "h200-sxm"
    devices: int = Field(default=8, ge=1, le=_MAX_DEVICES)
    batch: int = Field(default=64, ge=1, le=65_536,
                       description="Concurrent sequences per replica.")
    prompt: int = Field(default=2048, ge=0, le=1_048_576,
                        description="Prompt tokens per request.")
    output: int = Field(default=256, ge=1, le=1_048_576,
                        description="Output tokens per request.")
    precision: Literal["bf16", "fp16", "fp8", "int8", "int4", "fp4", "mxfp4"] = "bf16"
    kv_precision: Literal["bf16", "fp16", "fp8", "int8"] | None = None
    tp: _Degree | None = None
    pp: _Degree | None = None
    objective: Literal["latency", "throughput"] = "latency"
    region: CatalogName | None = None
    pue: Annotated[float, Field(ge=1.0, le=3.0)] | None = None
    ep: _Degree = Field(default=1, description="Expert-parallel degree (mixture-of-experts "
                        "models).")
    attention_dp: bool = Field(
        default=False, description="Attention data-parallel across each replica's tp devices "
        "(each device attends its own sequences; no KV head or MLA latent held twice).")
    attention_dp_balance: bool = Field(
        default=False, description="With attention_dp: every rank's prompts are prefilled in "
        "the same forward passes (TensorRT-LLM enable_balance); false: each rank prefills in "
        "passes of its own that the others wait for.")
    moe_dispatch: Literal["all-to-all", "all-gather"] = Field(
        default="all-to-all", description="How routed tokens reach experts on ranks that do "
        "not hold them (attention data parallelism, ep > tp).")
    grouped_kv_reads: bool = Field(
        default=True, description="Decode attention reads each key/value head once per query "
        "group (kernels since 2024); false: once per query head (2023 kernels).")
    first_token_in_decode: bool = Field(
        default=False, description="The engine prefills all but the prompt's last token and "
        "a decode step emits the first token (LMDeploy TurboMind up to v0.1).")
    request_overhead_ms: float | None = Field(
        default=None, ge=0.0, le=10_000.0, description="Serving-engine host time per prefill "
        "[ms]; null: the catalog's (0.9); 0: kernels alone.")
    host_us_per_sequence: float | None = Field(
        default=None, ge=0.0, le=10_000.0, description="Serving-engine host time per running "
        "sequence per decode step [us], overlapped with the devices' (a step takes the "
        "larger); null: the catalog's (29.4); 0: kernels alone.")
    requests_per_s: float | None = Field(
        default=None, gt=0.0, le=1e9, description="Offered load: adds the utilization, queue "
        "wait and time to first token at that load (`load`).")


class ServePlanRequest(ServeRequest):
    """One deployment, optionally with its per-GEMM roofline."""

    ops: bool = Field(default=False, description="Add `operators`: the roofline of each "
                      "matrix multiply of a decode step and of a prefill.")


class ServeCompareRequest(ServeRequest):
    """One deployment planned on several accelerators."""

    compare: list[CatalogName] = Field(
        default_factory=lambda: ["h100-sxm", "h200-sxm", "b200", "mi300x", "tpu-v5p",
                                 "trainium2", "gaudi3", "groq-lpu"],
        min_length=1, max_length=12)


class ServeHybridRequest(_Strict):
    """The model against a state-space hybrid of its width and size on one device
    (``compare_state_space``)."""

    model: CatalogName | None = "llama-3.1-8b"
    hf_config: dict[str, Any] | None = None
    hf_name: _Label | None = None
    hardware: CatalogName = "h100-sxm"
    precision: Literal["bf16", "fp16", "fp8", "int8", "int4", "fp4", "mxfp4"] = "bf16"
    attention_every: int = Field(default=8, ge=0, le=1024, description="One attention layer in "
                                 "this many (Jamba: 8); 0: no attention (pure state-space).")
    contexts: list[Annotated[int, Field(ge=1, le=1_048_576)]] = Field(
        default_factory=lambda: [256, 1024, 4096, 16384, 32768, 65536, 131072],
        min_length=1, max_length=16, description="Decode contexts compared [tokens].")


class ServeSearchRequest(_Speculative):
    """The cheapest (or lowest-energy) configuration meeting latency targets."""

    model: CatalogName | None = "llama-3.1-70b"
    hf_config: dict[str, Any] | None = None
    hf_name: _Label | None = None
    hardware: list[CatalogName] | None = Field(
        default=None, max_length=30, description="Accelerators to search; null: every one.")
    requests_per_s: float = Field(default=1.0, gt=0, le=1e6)
    prompt: int = Field(default=2048, ge=0, le=1_048_576)
    output: int = Field(default=256, ge=1, le=1_048_576)
    ttft_s: float = Field(default=2.0, gt=0, le=3600)
    tpot_s: float = Field(default=0.1, gt=0, le=60)
    objective: Literal["cost", "energy"] = "cost"
    attention_dp_balance: bool = Field(
        default=False, description="Attention data-parallel candidates (MoE models) prefill "
        "every rank's prompts in the same forward passes; false: rank by rank.")


class ConfigRequest(_Strict):
    """An uploaded Hugging Face config.json, already parsed as a JSON object."""

    config: dict[str, Any]
    name: _Label | None = None


class ValidateRequest(_Strict):
    """Rows in the validation schema (DESIGN.md), as objects or as CSV text; or the shipped set.
    """

    shipped: bool = Field(default=False, description="Validate the shipped rows (cached).")
    rows: list[dict[str, Annotated[str, Field(max_length=200)] | float | int | None]] | None = (
        Field(default=None, max_length=100))
    csv: Annotated[str, Field(max_length=262_144)] | None = Field(
        default=None, description="CSV text with a header row (at most 100 rows).")
