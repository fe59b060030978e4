"""Queueing delay of a serving replica (scalewall.infer.queueing) and the search's use of it."""

from __future__ import annotations

from math import factorial

import numpy as np
import pytest

from scalewall.infer import search_serving
from scalewall.infer.queueing import busy_fraction, erlang_c, queue_wait_s


def _erlang_c_by_sum(c: int, a: float) -> float:
    """Textbook Erlang C by its finite sums (Gross et al., Sec. 2.3)."""
    head = sum(a**k / factorial(k) for k in range(c))
    tail = a**c / factorial(c) * c / (c - a)
    return tail / (head + tail)


@pytest.mark.parametrize("c, a", [(1, 0.3), (2, 1.0), (10, 7.5), (32, 28.7), (64, 40.0)])
def test_erlang_c_matches_the_finite_sum(c: int, a: float) -> None:
    assert float(erlang_c(c, a)) == pytest.approx(_erlang_c_by_sum(c, a), rel=1e-9)


def test_erlang_c_holds_for_thousands_of_slots_and_saturates() -> None:
    """A batch of 1,024 at 98% load: the log-space form stays finite (the sums overflow)."""
    p = erlang_c(np.array([1024.0, 1024.0, 4.0]), np.array([1003.5, 1024.0, 5.0]))
    assert 0.0 < p[0] < 1.0
    assert p[1] == 1.0 and p[2] == 1.0


@pytest.mark.parametrize("c, a", [(1, 0.3), (2, 1.0), (10, 7.5), (32, 28.7), (64, 0.5)])
def test_busy_fraction_is_one_minus_the_mm_c_empty_probability(c: int, a: float) -> None:
    """P0 = [sum_{k<c} a^k/k! + a^c / (c! (1 - a/c))]^-1 (Gross et al., Sec. 2.3)."""
    p0 = 1.0 / (sum(a**k / factorial(k) for k in range(c)) + a**c / factorial(c) / (1 - a / c))
    assert float(busy_fraction(c, a)) == pytest.approx(1.0 - p0, rel=1e-9)


def test_busy_fraction_limits_hold_for_any_service_and_for_large_batches() -> None:
    """One slot: the utilisation; many slots lightly loaded: 1 - exp(-a) (M/G/infinity);
    1,024 slots near saturation stay finite; no load, no busy time."""
    assert busy_fraction(1, np.array([0.1, 0.9])) == pytest.approx([0.1, 0.9])
    assert float(busy_fraction(1024, 0.7)) == pytest.approx(1.0 - np.exp(-0.7), rel=1e-9)
    b = busy_fraction(np.array([1024.0, 1024.0, 8.0]), np.array([1010.0, 1024.0, 0.0]))
    assert b[0] == pytest.approx(1.0) and b[1] == 1.0 and b[2] == 0.0


def test_single_slot_wait_is_pollaczek_khinchine() -> None:
    """M/D/1 waits rho S / (2 (1 - rho)); M/M/1 (cv^2 = 1) twice that."""
    rho = np.array([0.1, 0.5, 0.9])  # arrivals x service time
    assert queue_wait_s(1, rho / 2.0, 2.0) == pytest.approx(rho * 2.0 / (2 * (1 - rho)))
    assert queue_wait_s(1, rho / 2.0, 2.0, service_cv2=1.0) == pytest.approx(
        rho * 2.0 / (1 - rho))
    assert np.isinf(queue_wait_s(8, 5.0, 2.0))  # 10 slots' worth of work on 8 slots


def test_search_ttft_counts_the_queue_at_the_offered_load() -> None:
    """At 5 requests/s a cheap deployment runs near saturation: the search reports its wait,
    and a tighter TTFT target buys headroom instead of being met by the idle-replica TTFT."""
    kw = dict(requests_per_s=5, prompt=1024, output=256, tpot_s=0.05,
              hardware=["h100-sxm", "h200-sxm"])
    loose = search_serving("llama-3.1-70b", ttft_s=2.0, **kw)  # type: ignore[arg-type]
    tight = search_serving("llama-3.1-70b", ttft_s=0.1, **kw)  # type: ignore[arg-type]
    for r, target in ((loose, 2.0), (tight, 0.1)):
        assert r.feasible and r.best is not None
        b = r.best
        assert b["utilization"] < 1.0
        assert b["ttft_s"] >= b["ttft_unloaded_s"] + b["queue_wait_s"]
        assert b["ttft_s"] <= target
    assert loose.best is not None and tight.best is not None
    assert tight.best["queue_wait_s"] < loose.best["queue_wait_s"]
    assert tight.best["utilization"] <= loose.best["utilization"]


def test_plan_at_an_offered_load_reports_its_queue_or_its_overload() -> None:
    from scalewall._errors import InvalidParameter
    from scalewall.infer import plan_serving

    kw = dict(n_devices=8, batch=32, prompt=1024, output=256, tp=4, pp=1)
    idle = plan_serving("llama-3.1-70b", "h100-sxm", **kw)  # type: ignore[arg-type]
    assert idle.to_dict()["load"] is None
    capacity = float(idle.metrics.requests_per_s)  # two replicas of tp 4
    light = plan_serving("llama-3.1-70b", "h100-sxm", requests_per_s=0.2 * capacity,
                         **kw)  # type: ignore[arg-type]
    busy = plan_serving("llama-3.1-70b", "h100-sxm", requests_per_s=0.95 * capacity,
                        **kw)  # type: ignore[arg-type]
    assert light.feasible and busy.feasible
    assert light.utilization == pytest.approx(0.2) and busy.utilization == pytest.approx(0.95)
    assert light.ttft_loaded_s is not None and busy.ttft_loaded_s is not None
    assert float(idle.metrics.ttft_s) < light.ttft_loaded_s < busy.ttft_loaded_s
    assert busy.queue_wait_s is not None and busy.queue_wait_s > 10 * (light.queue_wait_s or 0)
    over = plan_serving("llama-3.1-70b", "h100-sxm", requests_per_s=1.5 * capacity,
                        **kw)  # type: ignore[arg-type]
    assert not over.feasible and "grows without bound" in over.reasons[0]
    assert over.to_dict()["load"]["ttft_s"] is None
    with pytest.raises(InvalidParameter, match="requests_per_s must be in"):
        plan_serving("llama-3.1-70b", "h100-sxm", requests_per_s=-1.0,
                     **kw)  # type: ignore[arg-type]


def test_search_and_plan_agree_on_the_chosen_deployment() -> None:
    """The search's figures for its best configuration are the plan's for that deployment."""
    from scalewall.infer import plan_serving

    r = search_serving("llama-3.1-70b", requests_per_s=5, prompt=1024, output=256,
                       tpot_s=0.05, ttft_s=2.0, hardware=["h100-sxm", "h200-sxm"])
    assert r.best is not None
    b = r.best
    p = plan_serving("llama-3.1-70b", b["hardware"], n_devices=b["n_devices"], batch=b["batch"],
                     prompt=1024, output=256, tp=b["tp"], pp=b["pp"],
                     precision=b["precision"], requests_per_s=5)
    assert p.dp == b["replicas"]
    assert p.ttft_loaded_s == pytest.approx(b["ttft_s"], rel=1e-9)
    assert p.queue_wait_s == pytest.approx(b["queue_wait_s"], rel=1e-9)
    assert p.utilization == pytest.approx(b["utilization"], rel=1e-9)
    assert float(p.metrics.itl_s) == pytest.approx(b["tpot_s"], rel=1e-9)
    load = p.to_dict()["load"]
    for key in ("cost_usd_per_input_token", "cost_usd_per_output_token"):
        assert load[key] == pytest.approx(b[key], rel=1e-9)
    assert load["energy_j_per_token"] == pytest.approx(b["energy_j_per_output_token"], rel=1e-9)


def test_search_with_speculative_decoding_agrees_with_the_plan_and_needs_fewer_devices() -> None:
    """Llama 3.1 70B on H100s at 5 requests/s within 15 ms per token: drafting 3 tokens a step
    at a 0.7 acceptance rate (2.53 tokens per step, Leviathan et al. Eq. 1) meets the target on
    a smaller deployment, and the plan of the chosen deployment gives the same figures."""
    from scalewall.infer import plan_serving

    kw = dict(requests_per_s=5, prompt=1024, output=256, tpot_s=0.015, ttft_s=1.0,
              hardware=["h100-sxm"])
    plain = search_serving("llama-3.1-70b", **kw)  # type: ignore[arg-type]
    spec = search_serving("llama-3.1-70b", speculative_tokens=3, acceptance_rate=0.7,
                          **kw)  # type: ignore[arg-type]
    assert plain.best is not None and spec.best is not None
    b = spec.best
    assert b["speculative_tokens"] == 3 and b["accepted_tokens"] == pytest.approx(2.533)
    assert b["n_devices"] < plain.best["n_devices"]
    p = plan_serving("llama-3.1-70b", b["hardware"], n_devices=b["n_devices"], batch=b["batch"],
                     prompt=1024, output=256, tp=b["tp"], pp=b["pp"], precision=b["precision"],
                     requests_per_s=5, speculative_tokens=3, acceptance_rate=0.7)
    assert float(p.metrics.itl_s) == pytest.approx(b["tpot_s"], rel=1e-9)
    assert p.ttft_loaded_s == pytest.approx(b["ttft_s"], rel=1e-9)


def test_cost_and_energy_per_token_at_a_light_load() -> None:
    """At 20% of capacity the devices are paid for all the time: a rented deployment's cost
    per token is five times the full-load figure. Its boards draw serving power whenever a
    request is in a replica (nearly always with 32 slots at 6.4 in flight) and idle power
    otherwise, so energy per token grows almost as much; one slot at 20% idles 80% of the
    time and its boards draw idle power plus a fifth of the serving increment."""
    from scalewall.catalog import get_catalog
    from scalewall.infer import plan_serving

    kw = dict(n_devices=8, prompt=1024, output=256, tp=4, pp=1)
    full = plan_serving("llama-3.1-70b", "h100-sxm", batch=32, **kw)  # type: ignore[arg-type]
    assert full.accelerator.cloud_usd_per_hour is not None  # rental basis
    light = plan_serving("llama-3.1-70b", "h100-sxm", batch=32,
                         requests_per_s=0.2 * float(full.metrics.requests_per_s),
                         **kw)  # type: ignore[arg-type]
    load = light.to_dict()["load"]
    assert full.cost_usd_per_output_token is not None and full.energy_j_per_token is not None
    assert load["cost_usd_per_output_token"] == pytest.approx(
        5.0 * full.cost_usd_per_output_token, rel=1e-9)
    assert load["busy_fraction"] == pytest.approx(1.0 - np.exp(-6.4), rel=1e-3)
    assert 4.9 * full.energy_j_per_token < load["energy_j_per_token"] < (
        5.0 * full.energy_j_per_token)

    one = plan_serving("llama-3.1-70b", "h100-sxm", batch=1, **kw)  # type: ignore[arg-type]
    one_light = plan_serving("llama-3.1-70b", "h100-sxm", batch=1,
                             requests_per_s=0.2 * float(one.metrics.requests_per_s),
                             **kw)  # type: ignore[arg-type]
    accel, d = one.accelerator, get_catalog().defaults
    idle = accel.idle_power_w(d.idle_fraction_of_tdp)
    assert one.device_power_w is not None
    assert one_light.to_dict()["load"]["device_power_w"] == pytest.approx(
        idle + 0.2 * (one.device_power_w - idle), rel=1e-9)


@pytest.mark.parametrize("slots, load", [(2, 0.7), (4, 0.85), (8, 0.85)])
def test_closed_form_wait_matches_a_simulation_of_the_same_queue(slots: int, load: float) -> None:
    """Cosmetatos's M/D/c wait against the mean of three discrete-event runs of 100,000
    requests (Poisson arrivals, fixed service, FCFS; seed-to-seed spread about 4%). The
    Allen-Cunneen rule alone is 4-7% low on these; the benchmark sweeps 1-128 slots."""
    from scalewall.infer.queueing import simulated_wait_s

    sim = np.mean([simulated_wait_s(slots, load * slots, 1.0, n_requests=100_000, seed=s)
                   for s in range(3)])
    assert float(queue_wait_s(slots, load * slots, 1.0)) == pytest.approx(sim, rel=0.06)
