"""The two models the GPU benchmark measures, as the validation set's H200 rows describe them.

* ``GPT``: a GPT-style decoder (pre-LayerNorm, GELU MLP of 4h, learned position embeddings,
  tied input/output embeddings, biases on, no dropout, scaled-dot-product attention); trained
  with fp32 weights under bf16 autocast, fused AdamW, cross-entropy on fp32 logits. Full
  recomputation checkpoints every block (``torch.utils.checkpoint``).
* ``Llama``: a Llama-style decoder (RMSNorm, SwiGLU, grouped-query attention, rotary
  positions, untied embeddings) in bf16 with a static KV cache, for prefill and single-token
  decode steps (the decode step is captured once in a CUDA graph and replayed).

Each model is built from a ``scalewall.arch.Architecture`` so the planner predicts exactly
the shape that runs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from scalewall.arch.model import Architecture


def gpt_arch(layers: int, hidden: int, heads: int, seq: int, vocab: int = 50304) -> Architecture:
    return Architecture(n_layers=layers, hidden_size=hidden, n_heads=heads, ffn_size=4 * hidden,
                        vocab_size=vocab, mlp="gelu", tied_embeddings=True, position="learned",
                        norm="layernorm", bias=True, max_seq_len=max(seq, 2048),
                        id=f"gpt-l{layers}-h{hidden}")


def llama_arch(layers: int, hidden: int, heads: int, kv_heads: int, ffn: int, vocab: int,
               max_seq: int) -> Architecture:
    return Architecture(n_layers=layers, hidden_size=hidden, n_heads=heads, n_kv_heads=kv_heads,
                        ffn_size=ffn, vocab_size=vocab, mlp="swiglu", norm="rmsnorm",
                        position="rope", max_seq_len=max_seq, id=f"llama-l{layers}-h{hidden}")


class _GPTBlock(nn.Module):
    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        h = arch.hidden_size
        self.n_heads = arch.n_heads
        self.ln1, self.ln2 = nn.LayerNorm(h), nn.LayerNorm(h)
        self.qkv, self.proj = nn.Linear(h, 3 * h), nn.Linear(h, h)
        self.fc, self.out = nn.Linear(h, arch.ffn_size), nn.Linear(arch.ffn_size, h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(h, dim=-1)  # (b, s, h) each
        q, k, v = (t.view(b, s, self.n_heads, h // self.n_heads).transpose(1, 2)
                   for t in (q, k, v))  # (b, a, s, d)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (b, a, s, d)
        x = x + self.proj(y.transpose(1, 2).reshape(b, s, h))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, arch: Architecture, *, recompute: bool = False) -> None:
        super().__init__()
        h = arch.hidden_size
        self.recompute = recompute
        self.wte = nn.Embedding(arch.vocab_size, h)
        self.wpe = nn.Embedding(arch.max_seq_len, h)
        self.blocks = nn.ModuleList(_GPTBlock(arch) for _ in range(arch.n_layers))
        self.ln_f = nn.LayerNorm(h)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.wte(idx) + self.wpe(pos)  # (b, s, h)
        for block in self.blocks:
            x = (checkpoint(block, x, use_reentrant=False) if self.recompute and self.training
                 else block(x))
        logits = F.linear(self.ln_f(x), self.wte.weight)  # tied head, (b, s, V)
        return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())


class _RMSNorm(nn.Module):
    def __init__(self, h: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(h)), eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(
            x.dtype) * self.weight


def _rope(x: torch.Tensor, pos: torch.Tensor, theta: float = 500000.0) -> torch.Tensor:
    """Rotary embedding of ``x`` (b, heads, s, d) at positions ``pos`` (s,)."""
    d = x.shape[-1]
    freqs = theta ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
    angles = pos.float()[:, None] * freqs[None, :]  # (s, d/2)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class _LlamaBlock(nn.Module):
    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        h, d = arch.hidden_size, arch.d_head
        self.a, self.kv, self.d = arch.n_heads, arch.kv_heads, d
        self.n1, self.n2 = _RMSNorm(h), _RMSNorm(h)
        self.wq = nn.Linear(h, self.a * d, bias=False)
        self.wkv = nn.Linear(h, 2 * self.kv * d, bias=False)
        self.wo = nn.Linear(self.a * d, h, bias=False)
        self.w13 = nn.Linear(h, 2 * arch.ffn_size, bias=False)  # gate and up, fused
        self.w2 = nn.Linear(arch.ffn_size, h, bias=False)

    def forward(self, x: torch.Tensor, cache: torch.Tensor, start: int) -> torch.Tensor:
        """``x`` (b, s, h) at positions start..start+s-1; ``cache`` (2, b, kv, ctx, d)."""
        b, s, _ = x.shape
        y = self.n1(x)
        q = self.wq(y).view(b, s, self.a, self.d).transpose(1, 2)  # (b, a, s, d)
        k, v = self.wkv(y).view(b, s, 2, self.kv, self.d).permute(2, 0, 3, 1, 4)  # (b,kv,s,d)
        pos = torch.arange(start, start + s, device=x.device)
        q, k = _rope(q, pos), _rope(k, pos)
        cache[0, :, :, start:start + s] = k
        cache[1, :, :, start:start + s] = v
        keys, values = cache[0, :, :, :start + s], cache[1, :, :, :start + s]
        o = F.scaled_dot_product_attention(q, keys, values, is_causal=s > 1,
                                           enable_gqa=self.kv != self.a)  # (b, a, s, d)
        x = x + self.wo(o.transpose(1, 2).reshape(b, s, self.a * self.d))
        gate, up = self.w13(self.n2(x)).chunk(2, dim=-1)
        return x + self.w2(F.silu(gate) * up)


class Llama(nn.Module):
    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.arch = arch
        self.embed = nn.Embedding(arch.vocab_size, arch.hidden_size)
        self.blocks = nn.ModuleList(_LlamaBlock(arch) for _ in range(arch.n_layers))
        self.norm = _RMSNorm(arch.hidden_size)
        self.head = nn.Linear(arch.hidden_size, arch.vocab_size, bias=False)

    def new_cache(self, batch: int, context: int) -> torch.Tensor:
        a = self.arch
        p = next(self.parameters())
        return torch.zeros(a.n_layers, 2, batch, a.kv_heads, context, a.d_head,
                           device=p.device, dtype=p.dtype)  # (L, 2, b, kv, ctx, d)

    def forward(self, idx: torch.Tensor, cache: torch.Tensor, start: int) -> torch.Tensor:
        """Next token after ``idx`` (b, s) at positions ``start``.. (greedy), shape (b,)."""
        x = self.embed(idx)  # (b, s, h)
        for i, block in enumerate(self.blocks):
            x = block(x, cache[i], start)
        logits = self.head(self.norm(x[:, -1]))  # (b, V)
        return logits.argmax(-1)


def build(module: Any, device: torch.device, dtype: torch.dtype) -> Any:
    """Instantiate ``module()`` directly on ``device`` in ``dtype`` (no host copy of the
    weights: an 8B model would otherwise take 32 GB of host memory first)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with device:
            return module()
    finally:
        torch.set_default_dtype(previous)
