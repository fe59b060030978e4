"""A GPT-style decoder small enough for CPU tests (pre-LayerNorm, GELU MLP, learned
positions, tied embeddings, biases on, SDPA attention), and its scalewall Architecture."""

from __future__ import annotations

from typing import Any

from scalewall.arch.model import Architecture


def tiny_arch(*, layers: int = 2, hidden: int = 64, heads: int = 4, vocab: int = 256,
              seq: int = 32) -> Architecture:
    return Architecture(n_layers=layers, hidden_size=hidden, n_heads=heads, ffn_size=4 * hidden,
                        vocab_size=vocab, tied_embeddings=True, position="learned",
                        norm="layernorm", bias=True, qkv_bias=True, max_seq_len=seq,
                        id="tiny-gpt")


def build_model(arch: Architecture) -> Any:
    import torch
    from torch import nn
    from torch.nn import functional as F

    h, a = arch.hidden_size, arch.n_heads

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(h), nn.LayerNorm(h)
            self.qkv, self.proj = nn.Linear(h, 3 * h), nn.Linear(h, h)
            self.fc, self.out = nn.Linear(h, arch.ffn_size), nn.Linear(arch.ffn_size, h)

        def forward(self, x: Any) -> Any:
            b, s, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(h, dim=-1)  # (b, s, h) each
            q, k, v = (t.view(b, s, a, h // a).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (b, a, s, d)
            x = x + self.proj(y.transpose(1, 2).reshape(b, s, h))
            return x + self.out(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(arch.vocab_size, h)
            self.wpe = nn.Embedding(arch.max_seq_len, h)
            self.blocks = nn.ModuleList(Block() for _ in range(arch.n_layers))
            self.ln_f = nn.LayerNorm(h)

        def forward(self, idx: Any) -> Any:
            pos = torch.arange(idx.shape[1], device=idx.device)
            x = self.wte(idx) + self.wpe(pos)  # (b, s, h)
            for block in self.blocks:
                x = block(x)
            logits = self.ln_f(x) @ self.wte.weight.T  # tied head, (b, s, V)
            return F.cross_entropy(logits.flatten(0, 1).float(), idx.flatten())

    return GPT()
