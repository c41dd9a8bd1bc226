"""The denoiser: a Qwen2 (or Qwen3) transformer with bidirectional attention and a reusable context key/value cache.

Parameter names match Hugging Face Qwen2 (`model.layers.N.self_attn.q_proj` ...), so the same module loads the
embedded model and Dream-family checkpoints. With `qk_norm` it is a Qwen3 body: per-head RMSNorm on queries and
keys (`self_attn.q_norm`, `self_attn.k_norm`, Qwen3's names), usually no q/k/v biases and its own head size.
The one addition over a plain encoder is `context`: keys and values of positions that do not change between
denoising steps (the file around the span), computed once and reused, so that a step only runs the span through
the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from model.config import ModelConfig


@dataclass
class LayerKV:
    """Rotated keys and values of one layer: (B, H_kv, T, D) each."""

    k: torch.Tensor
    v: torch.Tensor


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotary_tables(cfg: ModelConfig, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin for the given positions (B, T) -> (B, 1, T, D), in the 'rotate half' layout Qwen2 uses."""
    d = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, device=positions.device, dtype=torch.float32) / d))
    freqs = positions.float()[..., None] * inv_freq  # (B, T, D/2)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().to(dtype)[:, None], emb.sin().to(dtype)[:, None]


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        h, hk, d = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.q_proj = nn.Linear(cfg.hidden_size, h * d, bias=cfg.attention_bias)
        self.k_proj = nn.Linear(cfg.hidden_size, hk * d, bias=cfg.attention_bias)
        self.v_proj = nn.Linear(cfg.hidden_size, hk * d, bias=cfg.attention_bias)
        self.o_proj = nn.Linear(h * d, cfg.hidden_size, bias=False)
        if cfg.qk_norm:  # Qwen3: each head's queries and keys are normalised before the rotation
            self.q_norm = RMSNorm(d, cfg.rms_norm_eps)
            self.k_norm = RMSNorm(d, cfg.rms_norm_eps)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        context: LayerKV | None,
        key_mask: torch.Tensor | None,
        attn_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, LayerKV]:
        b, t, _ = x.shape
        h, hk, d = self.cfg.num_attention_heads, self.cfg.num_key_value_heads, self.cfg.head_dim
        q = self.q_proj(x).view(b, t, h, d).transpose(1, 2)  # (B, H, T, D)
        k = self.k_proj(x).view(b, t, hk, d).transpose(1, 2)  # (B, Hkv, T, D)
        v = self.v_proj(x).view(b, t, hk, d).transpose(1, 2)
        if self.cfg.qk_norm:  # over D only, so the (B, H, T, D) layout is as good as Qwen3's (B, T, H, D)
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        own = LayerKV(k, v)
        if context is not None:
            k = torch.cat([context.k, k], dim=2)
            v = torch.cat([context.v, v], dim=2)
        mask = None
        if key_mask is not None:  # (B, Tk) True where a key may be attended
            mask = key_mask[:, None, None, :]
        if attn_mask is not None:  # (B or 1, 1, T, Tk): causal or partly open links, in training
            mask = attn_mask if mask is None else mask & attn_mask
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=h != hk)  # bidirectional
        return self.o_proj(y.transpose(1, 2).reshape(b, t, h * d)), own


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, rope, context, key_mask, attn_mask=None):
        a, own = self.self_attn(self.input_layernorm(x), rope, context, key_mask, attn_mask)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), own


class Trunk(nn.Module):
    """Named `model` inside `Denoiser` so parameter names match Qwen2's."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


@dataclass
class ForwardOutput:
    logits: torch.Tensor  # (B, T, V), or (N, V) when `select` was given
    kv: list[LayerKV] | None  # keys/values of the input positions, per layer, when asked for


class Denoiser(nn.Module):
    """Bidirectional Qwen2 network: token ids in, logits out; optional reusable context keys/values."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.model = Trunk(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        context: list[LayerKV] | None = None,
        key_mask: torch.Tensor | None = None,
        select: torch.Tensor | None = None,
        return_kv: bool = False,
        read_index: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> ForwardOutput:
        """Run `input_ids` (B, T) at `position_ids`; attend also to `context` keys if given.

        `key_mask` (B, T_context + T) marks attendable keys (padding in batches); `select` is a boolean (B, T)
        mask of the positions whose logits are wanted, which skips the output head elsewhere (training and the
        span-only steps use it). `read_index` (B, S) instead gathers S positions per row before the head,
        giving (B, S, V). `attn_mask` (B or 1, 1, T, T_context + T) restricts which keys each query sees
        (training's causal and annealed phases, and block-causal decoding of block-diffusion checkpoints, see
        `model.predictor`); without it attention is bidirectional.
        """
        b, t = input_ids.shape
        if position_ids is None:
            position_ids = torch.arange(t, device=input_ids.device).expand(b, t)
        x = self.model.embed_tokens(input_ids)  # (B, T, C)
        rope = rotary_tables(self.cfg, position_ids, x.dtype)
        kvs: list[LayerKV] = []
        for i, layer in enumerate(self.model.layers):
            x, own = layer(x, rope, None if context is None else context[i], key_mask, attn_mask)
            if return_kv:
                kvs.append(own)
        x = self.model.norm(x)
        if select is not None:
            x = x[select]  # (N, C)
        elif read_index is not None:
            x = x.gather(1, read_index[:, :, None].expand(-1, -1, x.shape[-1]))  # (B, S, C)
        return ForwardOutput(self.lm_head(x), kvs if return_kv else None)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
