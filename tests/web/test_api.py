"""The JSON API through the ASGI client: answers equal the public API's, errors are 422 with
field/rule/value, caps are refused by name, and nothing is fetched from elsewhere."""

from __future__ import annotations

import json
from typing import Any

import pytest
from numpy.testing import assert_allclose

from scalewall.api import plan_training
from scalewall.infer import plan_serving
from scalewall.web import Limits, create_app
from scalewall.web.cli import loopback_hosts


def test_train_plan_matches_public_api(client: Any) -> None:
    body = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "devices": 64, "tokens": 1e12}
    r = client.post("/api/train/plan", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    want = plan_training("llama-3.1-8b", "h100-sxm", n_devices=64, n_tokens=1e12).to_dict()
    assert got["layout"] == want["layout"]
    assert_allclose(got["step"]["step_s"], want["step"]["step_s"], rtol=1e-12)
    assert_allclose(got["footprint"]["energy_j"], want["footprint"]["energy_j"], rtol=1e-12)
    assert_allclose(got["memory"]["total_bytes"], want["memory"]["total_bytes"], rtol=1e-12)
    assert got["search"]["n_enumerated"] == want["search"]["n_enumerated"]
    # goodput 1: the failure-free run, shorter by the catalog's 0.9
    ideal = client.post("/api/train/plan", json={**body, "goodput": 1.0}).json()
    assert ideal["goodput"] == 1.0 and got["goodput"] == 0.9
    assert_allclose(ideal["footprint"]["duration_s"], 0.9 * got["footprint"]["duration_s"],
                    rtol=1e-12)


def test_pinned_layout_is_evaluated_as_given(client: Any) -> None:
    body = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "devices": 64, "tokens": 1e12,
            "tp": 2, "pp": 1, "dp": 32, "micro_batch": 1}
    got = client.post("/api/train/plan", json=body).json()
    assert got["layout_searched"] is False and got["search"] is None
    assert (got["layout"]["tp"], got["layout"]["dp"]) == (2, 32)


def test_search_endpoint(client: Any) -> None:
    r = client.post("/api/train/search", json={"model": "llama-3.1-8b", "devices": 64,
                                                "top": 3})
    assert r.status_code == 200
    s = r.json()["search"]
    assert len(s["top"]) == 3 and s["n_feasible"] <= s["n_valid"] <= s["n_enumerated"]


def test_compare_lists_every_accelerator(client: Any) -> None:
    r = client.post("/api/train/compare", json={
        "model": "llama-3.1-8b", "devices": 64, "tokens": 1e12,
        "compare": ["h100-sxm", "b200", "groq-lpu"]})
    assert r.status_code == 200
    rows = {p["hardware"]: p for p in r.json()["plans"]}
    assert set(rows) == {"h100-sxm", "b200", "groq-lpu"}
    assert rows["h100-sxm"]["ok"] and rows["b200"]["ok"]
    assert rows["b200"]["step"]["tokens_per_s"] > rows["h100-sxm"]["step"]["tokens_per_s"]


def test_serve_plan_matches_public_api(client: Any) -> None:
    body = {"model": "llama-3.1-70b", "hardware": "h200-sxm", "devices": 8, "batch": 32,
            "prompt": 1024, "output": 128}
    got = client.post("/api/serve/plan", json=body).json()
    want = plan_serving("llama-3.1-70b", "h200-sxm", n_devices=8, batch=32, prompt=1024,
                        output=128).to_dict()
    assert_allclose(got["tpot_s"], want["tpot_s"], rtol=1e-12)
    assert_allclose(got["ttft_s"], want["ttft_s"], rtol=1e-12)
    per_head = client.post("/api/serve/plan", json={**body, "grouped_kv_reads": False}).json()
    want_ph = plan_serving("llama-3.1-70b", "h200-sxm", n_devices=8, batch=32, prompt=1024,
                           output=128, grouped_kv_reads=False).to_dict()
    assert per_head["grouped_kv_reads"] is False
    assert_allclose(per_head["tpot_s"], want_ph["tpot_s"], rtol=1e-12)
    assert per_head["tpot_s"] > got["tpot_s"]
    r = client.post("/api/serve/compare", json={**body, "compare": ["h100-sxm", "mi300x"]})
    assert [p["hardware"] for p in r.json()["plans"]] == ["h100-sxm", "mi300x"]
    loaded = client.post("/api/serve/plan", json={**body, "requests_per_s": 2.0,
                                                  "request_overhead_ms": 0}).json()
    want_l = plan_serving("llama-3.1-70b", "h200-sxm", n_devices=8, batch=32, prompt=1024,
                          output=128, requests_per_s=2.0, request_overhead_s=0.0).to_dict()
    assert loaded["load"] == want_l["load"] and loaded["load"]["ttft_s"] > loaded["ttft_s"]
    assert loaded["request_overhead_s"] == 0.0
    bound = client.post("/api/serve/plan", json={
        "model": "qwen3-30b-a3b", "hardware": "b200", "devices": 1, "batch": 4096,
        "prompt": 128, "output": 128, "precision": "fp4", "host_us_per_sequence": 40}).json()
    assert bound["host_bound"] is True and bound["host_time_per_sequence_s"] == 40e-6
    assert_allclose(bound["tpot_s"], 4096 * 40e-6, rtol=1e-12)
    assert got["evidence"]["groups"]["decode"]["n"] > 10
    fed = client.post("/api/serve/plan", json={**body, "first_token_in_decode": True}).json()
    want_f = plan_serving("llama-3.1-70b", "h200-sxm", n_devices=8, batch=32, prompt=1024,
                          output=128, first_token_in_decode=True).to_dict()
    assert fed["first_token_in_decode"] is True
    assert_allclose(fed["ttft_s"], want_f["ttft_s"], rtol=1e-12)
    assert fed["ttft_s"] > got["ttft_s"]  # 1,023 tokens and a decode step of the batch


def test_serve_plan_speculative_decoding(client: Any) -> None:
    body = {"model": "deepseek-v3", "hardware": "b200", "devices": 8, "tp": 8, "ep": 4,
            "batch": 1, "prompt": 1024, "output": 2048, "precision": "fp4",
            "speculative_tokens": 3, "accepted_tokens": 2.82}
    got = client.post("/api/serve/plan", json=body).json()
    want = plan_serving("deepseek-v3", "b200", n_devices=8, tp=8, ep=4, batch=1, prompt=1024,
                        output=2048, precision="fp4", speculative_tokens=3,
                        accepted_tokens=2.82).to_dict()
    assert_allclose(got["tpot_s"], want["tpot_s"], rtol=1e-12)
    assert got["speculative_tokens"] == 3 and got["accepted_tokens"] == 2.82
    r = client.post("/api/serve/plan", json={**body, "accepted_tokens": None})
    assert r.status_code == 422 and "needs accepted_tokens" in r.text


def test_serve_search(client: Any) -> None:
    r = client.post("/api/serve/search", json={"model": "llama-3.1-8b",
                                                "hardware": ["h100-sxm", "h200-sxm"]})
    assert r.status_code == 200
    assert r.json()["best"]["hardware"] in ("h100-sxm", "h200-sxm")


def test_serve_hybrid_matches_public_api(client: Any) -> None:
    """The endpoint returns compare_state_space's figures for the hybrid of equal size, and a
    model whose weights fit on no replica within the scale-up domain is a 422 that says so."""
    from scalewall.infer.ssm import compare_state_space

    r = client.post("/api/serve/hybrid", json={"model": "llama-3.1-8b", "hardware": "h100-sxm",
                                                "contexts": [1024, 131072]})
    assert r.status_code == 200, r.text
    got = r.json()
    want = compare_state_space("llama-3.1-8b", "h100-sxm", context=[1024.0, 131072.0])
    assert got["throughput_ratio"] == pytest.approx(list(want.throughput_ratio))
    assert (got["hybrid_layers"], got["hybrid_attention_layers"]) == (26, 3)
    assert got["cheaper_from"] == 1024.0
    r = client.post("/api/serve/hybrid", json={"model": "deepseek-v3", "hardware": "h200-sxm"})
    assert r.status_code == 422 and "lower precision" in r.text
    r = client.post("/api/serve/hybrid", json={"contexts": []})
    assert r.status_code == 422 and "contexts" in r.text


def test_catalog(client: Any) -> None:
    cat = client.get("/api/catalog").json()
    assert {"accelerators", "models", "regions", "pue"} <= set(cat)
    assert all(a["provenance"] for a in cat["accelerators"])
    r = client.get("/api/catalog/h100")
    assert r.status_code == 200 and r.json()["id"] == "h100-sxm"


def test_unknown_name_is_422_with_suggestions(client: Any) -> None:
    r = client.post("/api/train/plan", json={"model": "llama-3.1-8bb"})
    assert r.status_code == 422
    d = r.json()["detail"][0]
    assert (d["field"], d["rule"], d["value"]) == ("model", "catalog", "llama-3.1-8bb")
    assert "llama-3.1-8b" in d["suggestions"]
    r = client.get("/api/catalog/nope-9000")
    assert r.status_code == 422


@pytest.mark.parametrize(("body", "field"), [
    ({"devices": 0}, "devices"),
    ({"devices": 1_000_001}, "devices"),
    ({"tokens": -1}, "tokens"),
    ({"precision": "fp4"}, "precision"),
    ({"zero": 4}, "zero"),
    ({"goodput": 1.5}, "goodput"),
    ({"goodput": 0}, "goodput"),
    ({"hardware": "../../etc/passwd"}, "hardware"),
    ({"surprise": 1}, "surprise"),
    ({"compare": ["h100-sxm"] * 13}, "compare"),
])
def test_invalid_fields_are_422_naming_the_field(client: Any, body: dict[str, Any],
                                                 field: str) -> None:
    path = "/api/train/compare" if "compare" in body else "/api/train/plan"
    r = client.post(path, json=body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == field


def test_planner_error_is_422_with_message(client: Any) -> None:
    r = client.post("/api/train/plan", json={"model": "llama-3.1-405b", "devices": 3})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "InvalidLayout"
    assert "3 devices" in body["detail"][0]["msg"]
    r = client.post("/api/serve/plan", json={"model": "llama-3.1-8b", "prompt": 10_000_000})
    assert r.status_code == 422


def test_nan_and_infinity_are_refused(client: Any) -> None:
    for raw in (b'{"tokens": NaN}', b'{"tokens": Infinity}'):
        r = client.post("/api/train/plan", content=raw,
                        headers={"content-type": "application/json"})
        assert r.status_code == 422
        json.loads(r.text)  # strict JSON back, no NaN


def test_layout_candidate_cap_names_the_cap() -> None:
    from fastapi.testclient import TestClient

    small = TestClient(create_app(limits=Limits(max_layout_candidates=10_000)))
    r = small.post("/api/train/plan", json={"model": "llama-3.1-405b", "devices": 16384})
    assert r.status_code == 422
    d = r.json()["detail"][0]
    assert d["rule"] == "cap" and d["cap"] == "max_layout_candidates"
    assert "max_layout_candidates=10,000" in d["msg"]


def test_body_cap_is_413_naming_the_cap(client: Any) -> None:
    r = client.post("/api/config", content=b"{" + b" " * 1_100_000 + b"}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["detail"][0]["cap"] == "max_body_bytes"


def test_config_upload_parsed_as_json_only(client: Any) -> None:
    config = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
              "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
              "vocab_size": 128256, "max_position_embeddings": 131072}
    r = client.post("/api/config", json={"config": config, "name": "mine"})
    assert r.status_code == 200
    assert_allclose(r.json()["n_params"], 8.03e9, rtol=0.01)  # Llama 3.1 8B's shape
    r = client.post("/api/train/plan", json={"hf_config": config, "hf_name": "mine",
                                              "devices": 64, "tokens": 1e12})
    assert r.status_code == 200 and r.json()["model"] == "mine"
    bad = client.post("/api/config", json={"config": {"model_type": "rce", "__import__": 1}})
    assert bad.status_code == 422 and bad.json()["detail"][0]["rule"] == "file"
    huge = client.post("/api/config", json={"config": {**config, "hidden_size": 2**60}})
    assert huge.status_code == 422


def test_validate_rows_and_csv(client: Any) -> None:
    row = {"id": "x", "source": "t", "task": "train", "model": "llama-3.1-8b",
           "hardware": "h100-sxm", "devices": "64", "tokens": "1e12", "metric": "mfu",
           "value": "0.4"}
    r = client.post("/api/validate", json={"rows": [row]})
    assert r.status_code == 200
    out = r.json()["rows"][0]
    assert out["id"] == "x" and out["predicted"] is not None
    text = ",".join(row) + "\n" + ",".join(row.values()) + "\n"
    assert client.post("/api/validate", json={"csv": text}).json()["rows"][0]["id"] == "x"
    over = text + (",".join(row.values()) + "\n") * 100
    r = client.post("/api/validate", json={"csv": over})
    assert r.status_code == 422 and r.json()["detail"][0]["cap"] == "max_validation_rows"
    r = client.post("/api/validate", json={"rows": [row] * 101})
    assert r.status_code == 422
    # a file the csv module cannot read is the user's error, not the server's (fuzzing found
    # a 500 here)
    huge = ",".join(row) + '\n"' + "x" * 140_000 + '",train,mfu,0.4\n'
    r = client.post("/api/validate", json={"csv": huge})
    assert r.status_code == 422 and "not readable as CSV" in r.json()["detail"][0]["msg"]


def test_no_cors_and_page_assets_are_local(client: Any) -> None:
    r = client.get("/", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in {k.lower() for k in r.headers}
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "http://" not in r.text and "https://" not in r.text
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    for asset in ("/static/app.js", "/static/charts.js", "/static/app.css"):
        assert client.get(asset).status_code == 200
    pre = client.options("/api/train/plan", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in {k.lower() for k in pre.headers}


def test_openapi_and_docs(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/api/train/plan", "/api/train/search", "/api/train/compare",
                 "/api/serve/plan", "/api/serve/search", "/api/catalog", "/api/validate"):
        assert path in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_loopback_host_guard() -> None:
    from fastapi.testclient import TestClient

    assert loopback_hosts("0.0.0.0") is None
    guarded = TestClient(create_app(allowed_hosts=loopback_hosts("127.0.0.1")),
                         base_url="http://127.0.0.1:8000")
    assert guarded.get("/api/health").status_code == 200
    assert guarded.get("/api/health", headers={"host": "rebound.example"}).status_code == 400


def test_cli_registers_web_and_report() -> None:
    from typer.testing import CliRunner

    from scalewall.cli import app

    out = CliRunner().invoke(app, ["--help"]).output
    assert "web" in out and "report" in out


def test_wall_and_laws_when_installed(client: Any) -> None:
    features = client.get("/api/health").json()["features"]
    if features["wall"]:
        r = client.post("/api/wall/project", json={"draws": 2000, "last_year": 2030})
        assert r.status_code == 200 and [y["year"] for y in r.json()["years"]][-1] == 2030
        r = client.post("/api/wall/project", json={"draws": 10_000_000})
        assert r.status_code == 422 and r.json()["detail"][0]["cap"] == "max_draws"
    if features["laws"]:
        r = client.post("/api/laws/optimal", json={"train_flop": 1e25})
        assert r.status_code == 200 and r.json()["n_params"] > 0


def test_serve_plan_carries_operators_on_request(client) -> None:  # type: ignore[no-untyped-def]
    """``ops: true`` adds the per-GEMM roofline of a decode step and a prefill; the decode
    table's step is the plan's time per output token."""
    body = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "devices": 1, "batch": 8}
    plain = client.post("/api/serve/plan", json=body)
    assert plain.status_code == 200 and "operators" not in plain.json()
    res = client.post("/api/serve/plan", json={**body, "ops": True})
    assert res.status_code == 200
    ops = res.json()["operators"]
    assert ops["decode"]["step_s"] == pytest.approx(res.json()["tpot_s"], rel=1e-9)
    assert ops["prefill"]["gemms"][0]["name"] == "qkv_proj"
