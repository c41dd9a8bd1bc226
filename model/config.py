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

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def to_hf_dict(self) -> dict:
        """The `config.json` contents, readable by transformers' Qwen2Config as well."""
        d = dataclasses.asdict(self)
        d.update(
            model_type="qwen2",
            architectures=["InstantEditDenoiser"],
            hidden_act="silu",
            use_sliding_window=False,
            diffusion={"logit_shift": self.logit_shift, "mask_token_id": self.mask_token_id},
        )
        del d["logit_shift"]
        return d

    @classmethod
    def from_hf_dict(cls, d: dict) -> ModelConfig:
        """Build from a `config.json` dict, ignoring keys this network does not use."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in fields and v is not None}
        diffusion = d.get("diffusion") or {}
        if "logit_shift" in diffusion:
            kwargs["logit_shift"] = bool(diffusion["logit_shift"])
        if "mask_token_id" in diffusion:
            kwargs["mask_token_id"] = int(diffusion["mask_token_id"])
        return cls(**kwargs)

    @classmethod
    def from_file(cls, path: Path) -> ModelConfig:
        return cls.from_hf_dict(json.loads(Path(path).read_text()))
