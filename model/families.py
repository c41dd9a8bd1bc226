"""Checkpoint families: which open diffusion model a Hugging Face folder holds, and how it maps onto `Denoiser`.

Families are told apart by `config.json`'s `model_type` and `architectures` (and, for Open-dCoder, whose config is a
plain `qwen2` one, by the mask token its tokenizer files name):
- the project's own (`qwen2` or `qwen3` / `InstantEditDenoiser`): loaded by `model.checkpoint` unchanged;
- Dream (`Dream` / `DreamModel`: Dream-v0, Dream-Coder, DiffuCoder, DreamOn): Qwen2 tensor names as they are,
  logits shifted by one (position i is predicted at i-1), BOS first, mask id from the config or `<|mask|>`;
- LLaDA (`llada` / `LLaDAModelLM`): OLMo-style config keys and tensor names, renamed onto Qwen2's; no biases,
  no shift, mask id 126336 unless the config says otherwise;
- dllm Tiny-A2D (`a2d-qwen2`, `a2d-qwen3`): a Qwen2 or Qwen3 body made bidirectional; no shift, `<|mask|>`; the
  BD3LM conversions (`bd3lm` in the folder's or hub id's name, or a `block_size` in the config) decode in blocks of
  32 that start at the span, as dllm's sampler runs them;
- Open-dCoder (`qwen2` plus a `<M>` mask token in the tokenizer): Qwen2 body, logit shift;
- SDAR (`sdar`): Qwen3 body, block size `block_size`, no shift, mask 151669;
- Fast-dLLM v2 (`Fast_dLLM_Qwen`): Qwen2.5 body, block size `bd_size`, sub-blocks of 8 committed left to right,
  logit ("token") shift, mask 151665;
- Salesforce CoDA (`CoDA`): Qwen3 body, logit shift, mask 151669; CC-BY-NC-4.0 weights: non-commercial use only.
The weights always go into the project's own network; no code shipped with a checkpoint is ever run. The block
families (SDAR, Fast-dLLM v2, A2D BD3LM) record their block size on the config (`ModelConfig.block_size`), and the predictor
and sampler then decode block-causally, one block at a time (`model.predictor`, `model.sampler`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors import safe_open
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

from model.checkpoint import CheckpointError, check_tensors, load_network
from model.config import ModelConfig
from model.network import Denoiser
from model.tokenizer import SpecialIds, special_ids_from

LLADA_MASK_ID = 126336  # the released LLaDA checkpoints' mask id


@dataclass(frozen=True)
class Family:
    """One checkpoint family: how to read its config and tensor names, and its decoding rules."""

    name: str
    model_type: str
    architecture: str
    logit_shift: bool | None  # None: as config.json says (the project's own checkpoints record it)
    mask_token: str  # the mask token's text in the family's tokenizer
    to_config: Callable[[dict], ModelConfig]
    rename: Callable[[str], str]  # the family's tensor name -> the Qwen2 name `Denoiser` uses
    mask_id: int | None = None  # the released checkpoints' mask id, when neither config nor tokenizer names one
    block_size_key: str | None = None  # config.json's key for the block size of a block-diffusion family
    # When config.json lacks the block size: (text in the checkpoint's path, the size its sampler uses) for the
    # folders that hold a block model, and the rest run bidirectionally. None: the block size must be there.
    block_size_by_name: tuple[str, int] | None = None
    block_from_span: bool = False  # blocks start at the span, not the row (ModelConfig.block_from_span)
    sub_block_size: int = 0  # ModelConfig.sub_block_size: commits go sub-block by sub-block inside a block
    # The config alone cannot tell this family from an ordinary causal model: its tokenizer must name `mask_token`.
    needs_tokenizer_mask: bool = False
    license: str = ""  # said wherever the family is listed, when the weights are not free to use for everything

    def matches(self, model_type: str, archs: list[str], tokenizer_mask: str | None) -> bool:
        if self.needs_tokenizer_mask:
            return model_type == self.model_type and tokenizer_mask == self.mask_token
        if self.name == "instant-edit":  # its model_type (qwen2/qwen3) is everyone's: only the architecture says
            return self.architecture in archs
        return self.architecture in archs or model_type == self.model_type


class UnknownFamilyError(CheckpointError):
    """config.json names a model this project cannot load."""


class DoesNotFitError(CheckpointError):
    """The network is larger than the free memory of the device it was asked onto."""


# --- config.json -> ModelConfig ------------------------------------------------------------------------------
def _own_config(d: dict) -> ModelConfig:
    return ModelConfig.from_hf_dict(d)


def _check_qwen_features(d: dict, family: str) -> dict:
    """Refuse what the network lacks (sliding windows, scaled rope); the dict with rope_theta where it belongs."""
    if d.get("use_sliding_window"):
        raise CheckpointError(f"{family} config asks for sliding-window attention, which this network does not have")
    if d.get("rope_scaling"):
        raise CheckpointError(f"{family} config asks for rope_scaling {d['rope_scaling']!r}, which is not supported")
    rope = d.get("rope_parameters") or {}  # configs re-saved by transformers 5 keep rope_theta here
    if rope.get("rope_type", "default") != "default":
        raise CheckpointError(f"{family} config asks for rope {rope!r}, which is not supported")
    return {"rope_theta": rope.get("rope_theta"), **{k: v for k, v in d.items() if v is not None}}


def _qwen2_body(family: str) -> Callable[[dict], ModelConfig]:
    """Qwen2 fields (plus `mask_token_id` where given); q/k/v always have biases in Qwen2."""

    def to_config(d: dict) -> ModelConfig:
        d = _check_qwen_features(d, family)
        return ModelConfig.from_hf_dict({**d, "attention_bias": True})

    return to_config


def _qwen3_body(family: str) -> Callable[[dict], ModelConfig]:
    """Qwen3 fields: per-head q/k norms, `head_dim` of its own, no q/k/v biases (an o_proj bias is refused)."""

    def to_config(d: dict) -> ModelConfig:
        d = _check_qwen_features(d, family)
        if d.get("attention_bias"):  # Qwen3 puts the bias on o_proj too, which this network does not have
            raise CheckpointError(f"{family} config asks for attention biases, which this Qwen3 body does not have")
        cfg = ModelConfig.from_hf_dict({**d, "attention_bias": False})
        return replace(cfg, qk_norm=True)

    return to_config


_dream_config = _qwen2_body("Dream")


LLADA_REQUIRED = {  # setting: the only value the network implements
    "block_type": "llama",
    "alibi": False,
    "include_bias": False,
    "input_emb_norm": False,
    "scale_logits": False,
    "attention_layer_norm": False,
    "layer_norm_type": "rms",
    "activation_type": "silu",
    "rope": True,
    "bias_for_layer_norm": False,
    "multi_query_attention": None,
}


def _llada_config(d: dict) -> ModelConfig:
    """OLMo-style keys (d_model, n_layers, ...) onto Qwen2's names; anything the network lacks is an error."""
    wrong = {k: d[k] for k, want in LLADA_REQUIRED.items() if k in d and d[k] not in (want, None)}
    if wrong:
        raise CheckpointError(f"LLaDA config has settings this network does not implement: {wrong}")
    n_heads = int(d["n_heads"])
    return ModelConfig(
        vocab_size=int(d.get("embedding_size") or d["vocab_size"]),
        hidden_size=int(d["d_model"]),
        intermediate_size=int(d.get("mlp_hidden_size") or d.get("mlp_ratio", 4) * d["d_model"]),
        num_hidden_layers=int(d["n_layers"]),
        num_attention_heads=n_heads,
        num_key_value_heads=int(d.get("n_kv_heads") or n_heads),
        max_position_embeddings=int(d.get("max_sequence_length", 4096)),
        rope_theta=float(d.get("rope_theta", 10000.0)),
        rms_norm_eps=float(d.get("rms_norm_eps", 1e-5)),
        tie_word_embeddings=bool(d.get("weight_tying", False)),
        attention_bias=bool(d.get("include_qkv_bias", False)),
        mask_token_id=int(d.get("mask_token_id") or LLADA_MASK_ID),
        pad_token_id=int(d.get("pad_token_id") or d.get("eos_token_id") or 0),
        bos_token_id=int(d.get("bos_token_id") or d.get("eos_token_id") or 0),
        eos_token_id=int(d.get("eos_token_id") or 0),
    )


# --- tensor names -------------------------------------------------------------------------------------------
LLADA_BLOCK_NAMES = {
    "attn_norm": "input_layernorm",
    "q_proj": "self_attn.q_proj",
    "k_proj": "self_attn.k_proj",
    "v_proj": "self_attn.v_proj",
    "attn_out": "self_attn.o_proj",
    "ff_norm": "post_attention_layernorm",
    "ff_proj": "mlp.gate_proj",
    "up_proj": "mlp.up_proj",
    "ff_out": "mlp.down_proj",
}
LLADA_TOP_NAMES = {
    "model.transformer.wte.weight": "model.embed_tokens.weight",
    "model.transformer.ln_f.weight": "model.norm.weight",
    "model.transformer.ff_out.weight": "lm_head.weight",
}
LLADA_BLOCK = re.compile(r"model\.transformer\.blocks\.(\d+)\.(\w+)\.(weight|bias)")


def _llada_name(name: str) -> str:
    if name in LLADA_TOP_NAMES:
        return LLADA_TOP_NAMES[name]
    m = LLADA_BLOCK.fullmatch(name)
    if m and m.group(2) in LLADA_BLOCK_NAMES:
        return f"model.layers.{m.group(1)}.{LLADA_BLOCK_NAMES[m.group(2)]}.{m.group(3)}"
    return name  # left as is: reported as unexpected by the name check


FAMILIES = (
    Family("instant-edit", "qwen2", "InstantEditDenoiser", None, "<|mask|>", _own_config, lambda n: n),
    Family("dream", "dream", "DreamModel", True, "<|mask|>", _dream_config, lambda n: n, mask_id=151666),
    Family("llada", "llada", "LLaDAModelLM", False, "<|mdm_mask|>", _llada_config, _llada_name, LLADA_MASK_ID),
    # dllm names its BD3LM conversions `...-bd3lm-...`, keeps no block size in the config (only its sampler's
    # `block_size` argument, 32 in every example and eval) and left-pads the prompt so the answer starts a block.
    Family(
        "a2d-qwen2", "a2d-qwen2", "A2DQwen2LMHeadModel", False, "<|mask|>", _qwen2_body("A2D"), lambda n: n,
        block_size_key="block_size", block_size_by_name=("bd3lm", 32), block_from_span=True,
    ),
    Family(
        "a2d-qwen3", "a2d-qwen3", "A2DQwen3LMHeadModel", False, "<|mask|>", _qwen3_body("A2D"), lambda n: n,
        block_size_key="block_size", block_size_by_name=("bd3lm", 32), block_from_span=True,
    ),
    Family(
        "open-dcoder",
        "qwen2",
        "Qwen2ForCausalLM",
        True,
        "<M>",
        _qwen2_body("Open-dCoder"),
        lambda n: n,
        needs_tokenizer_mask=True,
    ),
    Family(
        "sdar",
        "sdar",
        "SDARForCausalLM",
        False,
        "<|MASK|>",
        _qwen3_body("SDAR"),
        lambda n: n,
        mask_id=151669,
        block_size_key="block_size",
    ),
    Family(
        "fast-dllm-v2",
        "fast_dllm_qwen",
        "Fast_dLLM_QwenForCausalLM",
        True,
        "|<MASK>|",
        _qwen2_body("Fast-dLLM v2"),
        lambda n: n,
        mask_id=151665,
        block_size_key="bd_size",
        sub_block_size=8,  # generate()'s `small_block_size` default (the config has no key for it)
    ),
    Family(
        "coda",
        "coda",
        "CoDALanguageModel",
        True,
        "<|mask|>",
        _qwen3_body("CoDA"),
        lambda n: n,
        mask_id=151669,
        license="CC-BY-NC-4.0: non-commercial use only",
    ),
)
CAUSAL_TYPES = {"qwen2", "qwen3", "llama", "mistral", "gemma", "gemma2", "phi3", "qwen2_moe", "qwen3_moe"}


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path.parent} is missing {path.name}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {path.parent}: {path.name} is not valid JSON ({e})") from e


def detect(config: dict, where: Path | str = "config.json", tokenizer: dict | None = None) -> Family:
    """The family config.json (and the tokenizer files' mask token) names; a clear error naming what was found.

    `tokenizer` is the tokenizer settings (`tokenizer_settings`): Open-dCoder's config is a plain Qwen2 one, and
    only the `<M>` mask token its tokenizer names tells it from an ordinary left-to-right Qwen2 model.
    """
    model_type = str(config.get("model_type", "")).lower()
    archs = [str(a) for a in config.get("architectures") or []]
    mask = token_text((tokenizer or {}).get("mask_token"))
    for fam in FAMILIES:
        if fam.matches(model_type, archs, mask):
            return fam
    known = ", ".join(f"{f.model_type}/{f.architecture}" for f in FAMILIES if not f.needs_tokenizer_mask)
    raise UnknownFamilyError(
        f"{where}: model_type {config.get('model_type')!r} with architectures {archs} is not a diffusion "
        f"checkpoint this project can load{_why_not(model_type, archs, mask)} (known model_type/architecture: "
        f"{known}; qwen2 with the mask token <M> in its tokenizer: Open-dCoder)"
    )


def _why_not(model_type: str, archs: list[str], mask: str | None) -> str:
    """For an ordinary causal model: why it is refused, since its weights would load but could not denoise."""
    if model_type not in CAUSAL_TYPES and not any(a.endswith("ForCausalLM") for a in archs):
        return ""
    named = f"names the mask token {mask!r}, which no known family of this type uses" if mask else "names no mask token"
    return (
        f": it is an ordinary left-to-right (causal) language model, and its tokenizer {named}, so nothing says it "
        "was trained to fill masked positions from both sides; its output would be noise"
    )


def detect_folder(folder: Path) -> Family:
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder not found: {folder}")
    return detect(read_json(folder / "config.json"), folder / "config.json", tokenizer_settings(folder))


def model_config(folder: Path, family: Family) -> ModelConfig:
    """The network's shape from config.json, with the family's logit-shift rule and block size."""
    raw = read_json(folder / "config.json")
    try:
        cfg = family.to_config(raw)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {folder}: config.json is not a valid {family.name} config ({e!r})") from e
    if family.block_size_key:
        size = block_size(raw, family, folder)
        sub = family.sub_block_size if size > 0 and family.sub_block_size and size % family.sub_block_size == 0 else 0
        cfg = replace(cfg, block_size=size, block_from_span=family.block_from_span and size > 0, sub_block_size=sub)
    return cfg if family.logit_shift is None else replace(cfg, logit_shift=family.logit_shift)


def block_size(raw: dict, family: Family, folder: Path) -> int:
    """A block family's block size; it must be there: it is the length the model was trained to denoise. A family
    whose configs may leave it out (dllm's) gets its sampler's size when the path names a block model, else 0."""
    value = raw.get(family.block_size_key)
    if value is None and family.block_size_by_name is not None:
        marker, size = family.block_size_by_name
        # The folder's own name, or a hub cache's `models--org--name/snapshots/<hash>`.
        named = any(marker in part.lower() for part in folder.resolve().parts[-3:])
        return size if named else 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise CheckpointError(
            f"checkpoint {folder}: config.json's {family.block_size_key!r} should be the {family.name} block size "
            f"(a positive integer), found {value!r}"
        )
    return value


# --- weights ------------------------------------------------------------------------------------------------
def weight_files(folder: Path) -> list[Path]:
    """model.safetensors, or the shards a model.safetensors.index.json names (the hub layout for 7B models)."""
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    index = folder / "model.safetensors.index.json"
    if not index.is_file():
        raise CheckpointError(f"checkpoint {folder} is missing model.safetensors (or model.safetensors.index.json)")
    shards = sorted(set(read_json(index).get("weight_map", {}).values()))
    missing = [s for s in shards if not (folder / s).is_file()]
    if missing or not shards:
        raise CheckpointError(f"checkpoint {folder}: weight shards missing: {missing or 'the index names none'}")
    return [folder / s for s in shards]


class NamedState(dict):
    """A state dict that remembers each tensor's name in the checkpoint, for error messages."""

    def __init__(self):
        super().__init__()
        self.origin: dict[str, str] = {}

    def shown(self, name: str) -> str:
        old = self.origin.get(name, name)
        return name if old == name else f"{old} ({name} here)"


def read_weights(folder: Path, family: Family, device: str, dtype: torch.dtype) -> NamedState:
    """Every tensor, renamed to Qwen2's names and cast, read one at a time to keep host memory low."""
    state = NamedState()
    for path in weight_files(folder):
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                for name in f.keys():  # noqa: SIM118 (a safetensors file, not a dict)
                    state[family.rename(name)] = f.get_tensor(name).to(device=device, dtype=dtype)
                    state.origin[family.rename(name)] = name
        except (OSError, RuntimeError, ValueError) as e:  # safetensors' own errors derive from these
            raise CheckpointError(f"checkpoint {folder}: {path.name} is unreadable ({e})") from e
    return state


def check_names(folder: Path, state: NamedState, expected: dict) -> None:
    """Same names and shapes as the network, or an error naming tensors as the checkpoint spells them."""
    check_tensors(folder, state, expected, state.shown)


def parameter_bytes(cfg: ModelConfig, dtype: torch.dtype) -> int:
    with torch.device("meta"):
        net = Denoiser(cfg)
    return net.num_parameters() * torch.empty((), dtype=dtype).element_size()


def fit_error(need: int, free: int, total: int, device: str, dtype: torch.dtype) -> str | None:
    """The message for a model that does not fit, or None when it does."""
    if need <= free:
        return None
    gib = 1024**3
    return (
        f"the model needs about {need / gib:.1f} GiB on {device} ({str(dtype).removeprefix('torch.')}), but only "
        f"{free / gib:.1f} GiB of {total / gib:.1f} GiB is free; use a larger GPU or --device cpu"
    )


def check_fits(cfg: ModelConfig, device: str, dtype: torch.dtype, headroom: float = 1.15) -> None:
    """On CUDA, refuse before loading when weights plus working room exceed the free memory."""
    if not device.startswith("cuda"):
        return
    free, total = torch.cuda.mem_get_info(torch.device(device))
    message = fit_error(int(parameter_bytes(cfg, dtype) * headroom), free, total, device, dtype)
    if message:
        raise DoesNotFitError(message)


def build_network(folder: Path, family: Family, cfg: ModelConfig, device: str, dtype: torch.dtype) -> Denoiser:
    """Allocate the network without initialising it, then take the checkpoint's tensors as its parameters."""
    check_fits(cfg, device, dtype)
    with torch.device("meta"):
        net = Denoiser(cfg)
    expected = net.state_dict()
    state = read_weights(folder, family, device, dtype)
    if cfg.tie_word_embeddings:
        state.pop("lm_head.weight", None)
        expected.pop("lm_head.weight")
    check_names(folder, state, expected)
    if cfg.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    net.load_state_dict(state, assign=True)
    if cfg.tie_word_embeddings:
        net.lm_head.weight = net.model.embed_tokens.weight  # assign=True replaced the shared parameter
    return net.eval()


def load_family_network(folder: Path, device: str, dtype: torch.dtype) -> tuple[Family, Denoiser]:
    """Detect the family and build its network on `device` in `dtype`."""
    family = detect_folder(folder)
    if family.name == "instant-edit":
        return family, load_network(folder, device=device, dtype=dtype)
    return family, build_network(folder, family, model_config(folder, family), device, dtype)


# --- tokenizer and special ids ------------------------------------------------------------------------------
def token_text(value) -> str | None:
    """A special token as tokenizer_config.json writes it: a string or an AddedToken dict."""
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None


def tokenizer_settings(folder: Path) -> dict:
    """tokenizer_config.json merged over special_tokens_map.json (either may be absent)."""
    out: dict = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        if (folder / name).is_file():
            out.update(read_json(folder / name))
    return out


def special_ids(folder: Path, family: Family, cfg: ModelConfig, tok) -> SpecialIds:
    """Mask, pad, eos and bos ids: config.json first for the mask, the tokenizer's named tokens otherwise."""
    if family.name == "instant-edit":
        base = special_ids_from(tok)  # config.json may override the tokenizer's mask id (hub checkpoints do)
        return base if cfg.mask_token_id == base.mask else replace(base, mask=cfg.mask_token_id)
    settings = tokenizer_settings(folder)
    raw = read_json(folder / "config.json")

    def named(key: str) -> int | None:
        text = token_text(settings.get(key))
        return tok.token_to_id(text) if text else None

    mask = raw.get("mask_token_id") or named("mask_token") or tok.token_to_id(family.mask_token) or family.mask_id
    if mask is None:
        raise CheckpointError(
            f"checkpoint {folder}: no mask token: config.json has no mask_token_id and the tokenizer files name no "
            f"mask_token (nor hold {family.mask_token!r})"
        )
    eos = raw.get("eos_token_id") or named("eos_token")
    if isinstance(eos, list):
        eos = eos[0]
    if eos is None:
        raise CheckpointError(f"checkpoint {folder}: no end-of-text token in config.json or the tokenizer files")
    pad = raw.get("pad_token_id") or named("pad_token") or eos
    bos = named("bos_token") or raw.get("bos_token_id") or eos
    if not 0 <= int(mask) < cfg.vocab_size:
        raise CheckpointError(f"checkpoint {folder}: mask id {mask} is outside the vocabulary ({cfg.vocab_size})")
    return SpecialIds(mask=int(mask), pad=int(pad), eos=int(eos), bos=int(bos))


# Qwen2's pre-tokenizer split (contractions, letters, single digits, punctuation runs, newlines, spaces).
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)


def load_tokenizer(folder: Path) -> Tokenizer:
    """tokenizer.json when present; else Qwen2's vocab.json + merges.txt (Dream ships only those)."""
    if (folder / "tokenizer.json").is_file():
        try:
            return Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as e:  # tokenizers raises a bare Exception for malformed files
            raise CheckpointError(f"checkpoint {folder}: tokenizer.json is unreadable ({e})") from e
    if not (folder / "vocab.json").is_file() or not (folder / "merges.txt").is_file():
        raise CheckpointError(f"checkpoint {folder} is missing tokenizer.json (or vocab.json + merges.txt)")
    return bpe_from_vocab(folder)


def bpe_from_vocab(folder: Path) -> Tokenizer:
    """Byte-level BPE from the slow-tokenizer files; added tokens keep the ids tokenizer_config.json gives them."""
    vocab = read_json(folder / "vocab.json")
    added = tokenizer_settings(folder).get("added_tokens_decoder") or {}
    for i, spec in added.items():
        vocab[spec["content"]] = int(i)  # placed in the model vocab so their ids survive registration
    lines = (folder / "merges.txt").read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split(" ")) for line in lines if line and not line.startswith("#version")]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    specs = [added[i] for i in sorted(added, key=int)]

    def as_added(spec: dict) -> AddedToken:
        return AddedToken(spec["content"], special=spec.get("special", True), normalized=False)

    tok.add_special_tokens([as_added(s) for s in specs if s.get("special", True)])
    tok.add_tokens([as_added(s) for s in specs if not s.get("special", True)])
    return tok
