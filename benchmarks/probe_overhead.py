"""Overhead of the measurement probe on a small training loop (CPU, or the GPU if present).

Last line: one JSON object with ``direct`` (probe cost per step over the step time; target
under 0.01), ``ab`` (interleaved with/without difference) and ``step_s``. Needs torch; without
it the figures are null.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="fewer repetitions (CI)")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("torch is not installed (pip install 'scalewall[measure]'): nothing measured")
        print(json.dumps({"direct": None, "ab": None, "step_s": None}))
        return
    from tests.measure.tiny_gpt import build_model, tiny_arch

    from scalewall.measure import Probe
    from scalewall.measure.probe import probe_overhead

    torch.manual_seed(0)
    torch.set_num_threads(1)
    batch, seq = 4, 32
    arch = tiny_arch(seq=seq)
    model = build_model(arch)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, arch.vocab_size, (batch, seq))

    def train_step() -> None:
        loss = model(x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    probe = Probe(arch=arch, seq_len=seq, device="cpu", energy=False, warmup_steps=0,
                  on_notice=lambda m: None).start()
    figures = probe_overhead(probe, train_step, n_tokens=batch * seq,
                             blocks=4 if args.smoke else 12)
    print(f"probe cost per step {figures['probe_cost_s'] * 1e6:.1f} us = "
          f"{figures['direct']:.3%} of a {figures['step_s'] * 1e3:.2f} ms step; "
          f"interleaved with/without {figures['ab']:+.2%}")
    print(json.dumps({k: round(v, 6) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
