"""Network configuration: the Qwen2 fields of a Hugging Face `config.json`, plus the diffusion extras."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a Qwen2-style bidirectional denoiser; names follow `config.json` so files round-trip."""

    vocab_size: int = 4096
    hidden_size: int = 256
    intermediate_size: int = 768
    num_hidden_layers: int = 6
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 1024
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = True
    attention_bias: bool = True  # Qwen2 has q/k/v biases; o_proj never does
    mask_token_id: int = 1
    pad_token_id: int = 2
    bos_token_id: int = 0
    eos_token_id: int = 0
    # Dream-family checkpoints read the prediction for position i at logits[i-1].
    logit_shift: bool = False
    # Qwen3 bodies: RMSNorm over each head's queries and keys before the rotation, and a head size of their own.
    qk_norm: bool = False
    attention_head_dim: int = 0  # config.json's `head_dim`; 0: hidden_size // num_attention_heads (Qwen2)
    # Block-diffusion checkpoints (SDAR, Fast-dLLM v2) denoise blocks of this many tokens, block-causally; 0: none.
    block_size: int = 0
    # Where blocks begin: False, at the row's first token (SDAR, Fast-dLLM v2); True, at the span's first position,
    # as dllm's BD3LM sampler does by left-padding the prompt to a block boundary. Set by the family, not saved.
    block_from_span: bool = False
    # Fast-dLLM v2 commits a block's tokens in sub-blocks of this many, left to right (its `small_block_size`,
    # 8 by default in its generate()); attention and the cache still go by whole blocks. 0: the whole block at once.
    sub_block_size: int = 0

    @property
    def head_dim(self) -> int:
        return self.attention_head_dim or self.hidden_size // self.num_attention_heads

    def to_hf_dict(self) -> dict:
        """The `config.json` contents, readable by transformers' Qwen2Config as well."""
        d = dataclasses.asdict(self)
        d.update(
            model_type="qwen3" if self.qk_norm else "qwen2",
            architectures=["InstantEditDenoiser"],
            hidden_act="silu",
            use_sliding_window=False,
            diffusion={"logit_shift": self.logit_shift, "mask_token_id": self.mask_token_id},
        )
        for key in ("logit_shift", "qk_norm", "attention_head_dim", "block_size", "block_from_span", "sub_block_size"):
            del d[key]  # a Qwen2 body's config.json stays exactly as before these fields existed
        if self.qk_norm or self.attention_head_dim:
            d["head_dim"] = self.head_dim
        if self.block_size:
            d["diffusion"]["block_size"] = self.block_size
        return d

    @classmethod
    def from_hf_dict(cls, d: dict) -> ModelConfig:
        """Build from a `config.json` dict, ignoring keys this network does not use."""
        fields = {f.name for f in dataclasses.fields(cls)} - {
            "qk_norm", "attention_head_dim", "block_size", "block_from_span", "sub_block_size"
        }
        kwargs = {k: v for k, v in d.items() if k in fields and v is not None}
        if str(d.get("model_type", "")).lower() == "qwen3":  # the type is what says a body has q/k norms
            kwargs["qk_norm"] = True
        if d.get("head_dim"):
            kwargs["attention_head_dim"] = int(d["head_dim"])
        diffusion = d.get("diffusion") or {}
        if diffusion.get("block_size"):
            kwargs["block_size"] = int(diffusion["block_size"])
        if "logit_shift" in diffusion:
            kwargs["logit_shift"] = bool(diffusion["logit_shift"])
        if "mask_token_id" in diffusion:
            kwargs["mask_token_id"] = int(diffusion["mask_token_id"])
        return cls(**kwargs)

    @classmethod
    def from_file(cls, path: Path) -> ModelConfig:
        return cls.from_hf_dict(json.loads(Path(path).read_text()))
