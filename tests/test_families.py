"""Open diffusion checkpoints (issue 7): family detection, loading, numerics against transformers, chat prompts.

Tiny random checkpoints in each family's on-disk layout are written by tests/fixtures/checkpoints.py and loaded
through `model.load`, the path users take.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch
from fixtures.checkpoints import (
    DREAM_SPECIALS,
    LLADA_SPECIALS,
    qwen2_config,
    write_a2d,
    write_coda,
    write_dream,
    write_fast_dllm,
    write_llada,
    write_open_dcoder,
    write_qwen2_causal,
    write_sdar,
)

import model
from model import chat, families, hub
from model.checkpoint import CheckpointError
from model.config import ModelConfig
from model.engine import DEFAULT_CHECKPOINT
from model.network import Denoiser
from model.sampler import DenoiseCancelled
from model.tokenizer import SpecialIds

FIXTURES = Path(__file__).parent / "fixtures"
ATOL = 1e-4
CODE = "def add(a, b):\n    return a + b  # sum\n\nclass Counter:\n    def __init__(self):\n        self.x = 0\n"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def dream_dir(tmp_path_factory):
    return write_dream(tmp_path_factory.mktemp("hub") / "Dream-Coder-v0-Instruct-7B")


@pytest.fixture(scope="module")
def llada_dir(tmp_path_factory):
    return write_llada(tmp_path_factory.mktemp("hub") / "LLaDA-8B-Instruct")


@pytest.fixture(scope="module")
def dream(dream_dir):
    return model.load(dream_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def llada(llada_dir):
    return model.load(llada_dir, device="cpu", dtype="float32")


def random_ids(vocab: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, (2, 24), generator=torch.Generator().manual_seed(seed))


def read_state(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    state = {}
    for f in sorted(folder.glob("model*.safetensors")):
        state |= {k: v.float() for k, v in load_file(str(f)).items()}
    return state


# --- detection ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "config, name",
    [
        ({"model_type": "Dream", "architectures": ["DreamModel"]}, "dream"),
        ({"model_type": "llada", "architectures": ["LLaDAModelLM"]}, "llada"),
        ({"model_type": "qwen2", "architectures": ["InstantEditDenoiser"]}, "instant-edit"),
        ({"model_type": "qwen3", "architectures": ["InstantEditDenoiser"]}, "instant-edit"),
        ({"model_type": "a2d-qwen2", "architectures": ["A2DQwen2LMHeadModel"]}, "a2d-qwen2"),
        ({"model_type": "a2d-qwen3"}, "a2d-qwen3"),  # dllm's converter drops `architectures`
        ({"model_type": "sdar", "architectures": ["SDARForCausalLM"]}, "sdar"),
        ({"model_type": "Fast_dLLM_Qwen", "architectures": ["Fast_dLLM_QwenForCausalLM"]}, "fast-dllm-v2"),
        ({"model_type": "CoDA", "architectures": ["CoDALanguageModel"]}, "coda"),
    ],
)
def test_family_is_detected_from_config(config, name):
    assert families.detect(config).name == name


def test_open_dcoder_is_told_from_a_causal_qwen2_only_by_its_mask_token():
    assert families.detect(qwen2_config(), tokenizer={"mask_token": "<M>"}).name == "open-dcoder"
    assert families.detect(qwen2_config(), tokenizer={"mask_token": {"content": "<M>"}}).name == "open-dcoder"
    for tokenizer in ({}, {"mask_token": "<|mask|>"}, None):
        with pytest.raises(families.UnknownFamilyError, match="left-to-right"):
            families.detect(qwen2_config(), tokenizer=tokenizer)


def test_ordinary_qwen2_checkpoint_is_refused_with_the_reason(tmp_path):
    folder = write_qwen2_causal(tmp_path / "Qwen2.5-0.5B-Instruct")
    with pytest.raises(families.UnknownFamilyError) as err:
        model.load(folder, device="cpu")
    message = str(err.value)
    assert "Qwen2ForCausalLM" in message and "left-to-right" in message and "names no mask token" in message
    assert "<M>" in message and "Open-dCoder" in message  # says what would have made it loadable


@pytest.mark.parametrize(
    "config, named",
    [
        ({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}, "LlamaForCausalLM"),
        ({"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}, "Qwen2ForCausalLM"),  # causal, not ours
        ({}, "None"),
    ],
)
def test_unknown_family_error_names_what_was_found(tmp_path, config, named):
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(families.UnknownFamilyError, match=named) as err:
        model.load(tmp_path, device="cpu")
    assert "DreamModel" in str(err.value) and "LLaDAModelLM" in str(err.value)


def test_embedded_checkpoint_still_loads_as_the_projects_own_family(engine):
    # The default since session 20 was pre-trained left to right and reads its logits shifted by one, as Dream does.
    assert engine.family == "instant-edit" and not engine.supports_chat and engine.net.cfg.logit_shift
    with pytest.raises(ValueError, match="infill-only"):
        engine.rewrite(model.InfillRequest("x = ", "\n", "1"), "make it 2")


# --- loading the families -----------------------------------------------------------------------------------
def test_dream_loads_with_its_rules(dream):
    assert dream.family == "dream" and dream.name == "Dream-Coder-v0-Instruct-7B"
    assert dream.net.cfg.logit_shift and dream.net.cfg.attention_bias and not dream.net.cfg.tie_word_embeddings
    assert dream.special == SpecialIds(mask=151666, pad=151643, eos=151643, bos=151665)
    assert dream.supports_chat
    assert "modeling_dream" not in sys.modules and "tokenization_dream" not in sys.modules  # no remote code


def test_llada_loads_with_its_rules(llada):
    assert llada.family == "llada" and not llada.net.cfg.logit_shift and not llada.net.cfg.attention_bias
    assert (llada.special.mask, llada.special.bos, llada.special.eos) == (126336, 126080, 126081)
    assert llada.net.cfg.vocab_size == 126464 and llada.supports_chat


def test_dream_tokenizer_from_vocab_and_merges_matches_transformers_qwen2(dream_dir, dream):
    from transformers import Qwen2Tokenizer

    ref = Qwen2Tokenizer(vocab=str(dream_dir / "vocab.json"), merges=str(dream_dir / "merges.txt"))
    text = CODE + "x = 'ünï' 12345\r\n\n  end"
    assert dream.tok.encode(text) == ref.encode(text, add_special_tokens=False)
    assert dream.tok.decode(dream.tok.encode(text)) == text
    for i, token in DREAM_SPECIALS.items():
        assert dream.tok.encode(f"a{token}b")[1] == i  # special tokens are single, unsplit ids


def test_llada_tokenizer_loads_with_autotokenizer(llada_dir, llada):
    from transformers import AutoTokenizer

    ref = AutoTokenizer.from_pretrained(str(llada_dir))
    assert ref.mask_token_id == 126336 and ref.bos_token_id == 126080
    assert llada.tok.encode(CODE) == ref.encode(CODE, add_special_tokens=False)
    assert {llada.tok.tok.token_to_id(t) for t in LLADA_SPECIALS.values()} == set(LLADA_SPECIALS)


def test_missing_shard_is_named(tmp_path):
    folder = write_dream(tmp_path / "Dream-v0-Instruct-7B")
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model-00002-of-00002"):
        model.load(folder, device="cpu")


def test_config_that_does_not_match_the_weights(tmp_path):
    folder = write_llada(tmp_path / "LLaDA-8B-Base", instruct=False)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "mlp_hidden_size": 48}))
    with pytest.raises(CheckpointError, match=r"blocks\.0\.ff_(proj|out)\.weight \(model\.layers\.0\.mlp\."):
        model.load(folder, device="cpu")


def test_unsupported_llada_setting_is_named(tmp_path):
    folder = write_llada(tmp_path / "LLaDA-8B-Base", instruct=False)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "block_type": "sequential"}))
    with pytest.raises(CheckpointError, match="block_type"):
        model.load(folder, device="cpu")


def test_memory_check_message_names_needed_and_free():
    gib = 1024**3
    assert families.fit_error(10 * gib, 20 * gib, 24 * gib, "cuda:0", torch.bfloat16) is None
    message = families.fit_error(17 * gib, 5 * gib, 24 * gib, "cuda:0", torch.bfloat16)
    assert "17.0 GiB" in message and "5.0 GiB" in message and "24.0 GiB" in message


def test_7b_dream_shapes_count_7_6b_parameters():
    from model.bench_gpu import QWEN2_7B

    assert 7.61e9 < families.parameter_bytes(QWEN2_7B, torch.bfloat16) / 2 < 7.62e9  # Qwen2.5-7B: 7.6B parameters


# --- Qwen2 / Qwen3 body families (issue 12) -------------------------------------------------------------------
@dataclass(frozen=True)
class Rules:
    """What loading a family's checkpoint must give: written out here, independently of model/families.py."""

    write: Callable[[Path], Path]
    family: str
    shift: bool
    qwen3: bool  # Qwen3 body: q/k norms, head_dim 16 in the fixtures (hidden/heads would be 8)
    mask: int
    mask_text: str
    block: int = 0


A2D_MASK = "<|mask|>"
QWEN_FAMILIES = {
    "Qwen3-0.6B-diffusion-mdlm-v0.1": Rules(lambda p: write_a2d(p), "a2d-qwen3", False, True, 151669, A2D_MASK),
    "Qwen2.5-0.5B-diffusion-mdlm": Rules(
        lambda p: write_a2d(p, qwen3=False), "a2d-qwen2", False, False, 151665, A2D_MASK
    ),
    # dllm's BD3LM conversions name no block size in config.json: the `bd3lm` in their name gives its sampler's 32.
    "Qwen3-0.6B-diffusion-bd3lm-v0.1": Rules(lambda p: write_a2d(p), "a2d-qwen3", False, True, 151669, A2D_MASK, 32),
    "Qwen2.5-Coder-0.5B-Instruct-diffusion-bd3lm-v0.1": Rules(
        lambda p: write_a2d(p, qwen3=False), "a2d-qwen2", False, False, 151665, A2D_MASK, 32
    ),
    "open-dcoder-0.5B": Rules(write_open_dcoder, "open-dcoder", True, False, 151665, "<M>"),
    "SDAR-1.7B-Chat": Rules(write_sdar, "sdar", False, True, 151669, "<|MASK|>", block=4),
    "Fast_dLLM_v2_1.5B": Rules(write_fast_dllm, "fast-dllm-v2", True, False, 151665, "|<MASK>|", block=32),
    "CoDA-v0-Instruct": Rules(write_coda, "coda", True, True, 151669, "<|mask|>"),
}


@pytest.fixture(scope="module")
def qwen_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub")
    return {name: rules.write(root / name) for name, rules in QWEN_FAMILIES.items()}


@pytest.fixture(scope="module")
def qwen_engines(qwen_dirs) -> dict[str, model.Engine]:
    return {name: model.load(folder, device="cpu", dtype="float32") for name, folder in qwen_dirs.items()}


@pytest.mark.parametrize("name", QWEN_FAMILIES)
def test_qwen_body_family_loads_with_its_rules(qwen_dirs, qwen_engines, name):
    rules, engine = QWEN_FAMILIES[name], qwen_engines[name]
    cfg = engine.net.cfg
    assert (engine.family, engine.name) == (rules.family, name)
    assert (cfg.logit_shift, cfg.qk_norm, cfg.block_size, engine.special.mask) == (
        rules.shift,
        rules.qwen3,
        rules.block,
        rules.mask,
    )
    assert cfg.head_dim == (16 if rules.qwen3 else 8) and cfg.attention_bias == (not rules.qwen3)
    assert cfg.block_from_span == (rules.family.startswith("a2d") and rules.block > 0)  # dllm left-pads the prompt
    assert engine.special.eos == 151643
    assert engine.tok.encode(f"x{rules.mask_text}y")[1] == rules.mask  # the mask is one unsplit token
    folder = str(qwen_dirs[name])
    loaded = [str(getattr(m, "__file__", "") or "") for m in list(sys.modules.values())]
    assert not any(folder in f for f in loaded)  # no code from the checkpoint folder was imported


def transformers_reference(folder: Path):
    """Transformers' own Qwen2 or Qwen3 model built from the checkpoint's config.json, with its tensors as stored."""
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

    raw = json.loads((folder / "config.json").read_text())
    qwen3 = "head_dim" in raw
    keys = (
        "vocab_size hidden_size intermediate_size num_hidden_layers num_attention_heads num_key_value_heads "
        "rope_theta rms_norm_eps tie_word_embeddings max_position_embeddings head_dim attention_bias"
    ).split()
    config_cls, model_cls = (Qwen3Config, Qwen3ForCausalLM) if qwen3 else (Qwen2Config, Qwen2ForCausalLM)
    ref_cfg = config_cls(**{k: raw[k] for k in keys if k in raw}, attn_implementation="eager")
    ref = model_cls(ref_cfg).float().eval()
    loaded = ref.load_state_dict(read_state(folder), strict=False)
    tied = {"lm_head.weight"} if raw["tie_word_embeddings"] else set()
    assert set(loaded.missing_keys) == tied and not loaded.unexpected_keys  # every tensor by transformers' name
    return ref


@pytest.mark.parametrize("name", QWEN_FAMILIES)
def test_qwen_body_family_logits_equal_transformers_bidirectional(qwen_dirs, qwen_engines, name):
    engine = qwen_engines[name]
    ref = transformers_reference(qwen_dirs[name])
    ids = random_ids(engine.net.cfg.vocab_size, seed=4)
    with torch.no_grad():
        ours = engine.net(ids).logits
    torch.testing.assert_close(ours, qwen2_logits(ref, ids), atol=ATOL, rtol=0)
    assert (ours - qwen2_logits(ref, ids, bidirectional=False)).abs().max() > 1e-2


@pytest.mark.parametrize("name", ["SDAR-1.7B-Chat", "Fast_dLLM_v2_1.5B"])
def test_block_families_load_with_their_block_size_and_decode(qwen_engines, name):
    """The block size is recorded and decoding runs; the network itself attends both ways (the block-causal
    mask is the predictor's: tests/test_block_decoding.py)."""
    engine = qwen_engines[name]
    assert engine.net.cfg.block_size == QWEN_FAMILIES[name].block
    res = engine.infill(model.InfillRequest("def f(", "):\n    return 1\n", budget=6), model.SamplerConfig(max_steps=2))
    assert res.steps >= 1 and res.context_tokens > 0
    ids = random_ids(engine.net.cfg.vocab_size, seed=5)
    later = ids.clone()
    later[:, -1] = (later[:, -1] + 1) % engine.net.cfg.vocab_size
    with torch.no_grad():  # changing the last token moves the first position's logits: attention is not causal
        assert (engine.net(ids).logits[:, 0] - engine.net(later).logits[:, 0]).abs().max() > 1e-4


def test_block_family_without_its_block_size_is_refused(tmp_path):
    folder = write_sdar(tmp_path / "SDAR-1.7B-Chat")
    cfg = json.loads((folder / "config.json").read_text())
    del cfg["block_size"]
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="block_size"):
        model.load(folder, device="cpu")


def test_qwen3_family_with_attention_biases_is_refused(tmp_path):
    folder = write_coda(tmp_path / "CoDA-v0-Instruct")
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "attention_bias": True}))
    with pytest.raises(CheckpointError, match="attention biases"):
        model.load(folder, device="cpu")


def test_non_commercial_weights_are_said_where_families_are_listed():
    root = Path(__file__).parent.parent
    restricted = [f for f in families.FAMILIES if f.license]
    assert [f.name for f in restricted] == ["coda"]
    for text in ((root / "README.md").read_text(), (root / "CHANGELOG.md").read_text(), families.__doc__):
        lines = [row for row in text.splitlines() if "CoDA" in row and "CC-BY-NC-4.0" in row]
        assert lines and all("non-commercial" in row.lower() for row in lines)


# --- (a) numerics against transformers ----------------------------------------------------------------------
def qwen2_reference(cfg: ModelConfig, state: dict):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    ref_cfg = Qwen2Config(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        rope_theta=cfg.rope_theta,
        rms_norm_eps=cfg.rms_norm_eps,
        tie_word_embeddings=cfg.tie_word_embeddings,
        max_position_embeddings=cfg.max_position_embeddings,
        attn_implementation="eager",
    )
    ref = Qwen2ForCausalLM(ref_cfg).float().eval()
    ref.load_state_dict(state, strict=not cfg.tie_word_embeddings)
    return ref


def qwen2_logits(ref, ids: torch.Tensor, bidirectional: bool = True) -> torch.Tensor:
    b, t = ids.shape
    mask = {"full_attention": torch.zeros(b, 1, t, t)} if bidirectional else None  # zeros: every key allowed
    with torch.no_grad():
        return ref(input_ids=ids, attention_mask=mask).logits


def test_own_network_matches_qwen2_bidirectional_on_random_weights():
    cfg = ModelConfig(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        attention_bias=True,
    )
    torch.manual_seed(0)
    net = Denoiser(cfg).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.1)
    ref = qwen2_reference(cfg, net.state_dict())
    ids = random_ids(cfg.vocab_size)
    with torch.no_grad():
        ours = net(ids).logits
    torch.testing.assert_close(ours, qwen2_logits(ref, ids), atol=ATOL, rtol=0)
    assert (ours - qwen2_logits(ref, ids, bidirectional=False)).abs().max() > 1e-2  # the causal mask is off


def random_qwen3_config() -> ModelConfig:
    """A Qwen3 body: q/k norms, no q/k/v biases, head_dim 32 where hidden/heads would be 16."""
    return ModelConfig(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        rope_theta=1e6,
        tie_word_embeddings=False,
        attention_bias=False,
        qk_norm=True,
        attention_head_dim=32,
    )


def test_own_network_matches_qwen3_bidirectional_on_random_weights():
    from transformers import Qwen3Config, Qwen3ForCausalLM

    cfg = random_qwen3_config()
    torch.manual_seed(0)
    net = Denoiser(cfg).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.normal_(1.0 if name.endswith("norm.weight") else 0.0, 0.1)  # norms near 1, so q/k norms matter
    ref_cfg = Qwen3Config(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        rope_theta=1e6,
        rms_norm_eps=cfg.rms_norm_eps,
        tie_word_embeddings=False,
        attention_bias=False,
        max_position_embeddings=cfg.max_position_embeddings,
        attn_implementation="eager",
    )
    ref = Qwen3ForCausalLM(ref_cfg).float().eval()
    ref.load_state_dict(net.state_dict())  # strict: Qwen3's tensor names, q_norm / k_norm included
    ids = random_ids(cfg.vocab_size, seed=6)
    with torch.no_grad():
        ours = net(ids).logits
        key_mask = torch.ones(ids.shape, dtype=torch.bool)  # padding mask path: all keys open, same result
        torch.testing.assert_close(net(ids, key_mask=key_mask).logits, ours, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours, qwen2_logits(ref, ids), atol=ATOL, rtol=0)
    assert (ours - qwen2_logits(ref, ids, bidirectional=False)).abs().max() > 1e-2


def test_qwen3_config_round_trips_and_qwen2_config_is_unchanged(tmp_path):
    from model.checkpoint import load_network, save_network

    plain = ModelConfig().to_hf_dict()
    assert plain["model_type"] == "qwen2"
    assert not {"head_dim", "qk_norm", "attention_head_dim", "block_size"} & set(plain)
    assert "block_size" not in plain["diffusion"]
    cfg = replace(random_qwen3_config(), block_size=8)
    saved = cfg.to_hf_dict()
    assert saved["model_type"] == "qwen3" and saved["head_dim"] == 32 and saved["diffusion"]["block_size"] == 8
    assert ModelConfig.from_hf_dict(saved) == cfg
    net = Denoiser(cfg)
    save_network(net, tmp_path)
    (tmp_path / "tokenizer.json").write_bytes((DEFAULT_CHECKPOINT / "tokenizer.json").read_bytes())
    back = load_network(tmp_path)
    assert back.cfg == cfg and back.model.layers[0].self_attn.q_norm.weight.shape == (32,)


def test_dream_logits_equal_qwen2_bidirectional(dream_dir, dream):
    ref = qwen2_reference(dream.net.cfg, read_state(dream_dir))  # the checkpoint's own tensor names
    ids = random_ids(dream.net.cfg.vocab_size, seed=1)
    with torch.no_grad():
        ours = dream.net(ids).logits
    torch.testing.assert_close(ours, qwen2_logits(ref, ids), atol=ATOL, rtol=0)
    assert (ours - qwen2_logits(ref, ids, bidirectional=False)).abs().max() > 1e-2


LLAMA_NAMES = {  # LLaDA's names -> transformers' Llama names, written out independently of model/families.py
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


def llama_state(llada_state: dict) -> dict:
    out = {}
    for name, t in llada_state.items():
        parts = name.split(".")
        if parts[2] == "blocks":
            out[f"model.layers.{parts[3]}.{LLAMA_NAMES[parts[4]]}.{parts[5]}"] = t
        else:
            out[
                {"wte": "model.embed_tokens.weight", "ln_f": "model.norm.weight", "ff_out": "lm_head.weight"}[parts[2]]
            ] = t
    return out


def test_llada_logits_equal_llama_bidirectional(llada_dir, llada):
    from transformers import LlamaConfig, LlamaForCausalLM

    raw = json.loads((llada_dir / "config.json").read_text())
    ref_cfg = LlamaConfig(
        vocab_size=raw["embedding_size"],
        hidden_size=raw["d_model"],
        intermediate_size=raw["mlp_hidden_size"],
        num_hidden_layers=raw["n_layers"],
        num_attention_heads=raw["n_heads"],
        num_key_value_heads=raw["n_kv_heads"],
        rope_theta=raw["rope_theta"],
        rms_norm_eps=raw["rms_norm_eps"],
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        attention_bias=False,
        mlp_bias=False,
        attn_implementation="eager",
    )
    ref = LlamaForCausalLM(ref_cfg).float().eval()
    ref.load_state_dict(llama_state(read_state(llada_dir)))
    ids = random_ids(raw["embedding_size"], seed=2)
    with torch.no_grad():
        ours = llada.net(ids).logits
        full = ref(input_ids=ids, attention_mask=torch.zeros(2, 1, 24, 24)).logits  # a 4D mask is used as given
        causal = ref(input_ids=ids).logits
    torch.testing.assert_close(ours, full, atol=ATOL, rtol=0)
    assert (ours - causal).abs().max() > 1e-2


# --- (b) the shift / no-shift rule --------------------------------------------------------------------------
def make_echo(engine, rules: dict[int, int]) -> None:
    """Rewire the network so the logits at a position holding token a favour rules[a], whatever surrounds it.

    Attention and MLP outputs are zeroed, so each position's final state is its own embedding; token a gets
    the basis vector e_k and the head maps e_k to rules[a].
    """
    net = engine.net
    if net.lm_head.weight is net.model.embed_tokens.weight:  # a tied head would rewrite the embeddings below
        net.lm_head.weight = torch.nn.Parameter(net.lm_head.weight.detach().clone())
    with torch.no_grad():
        for layer in net.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        net.model.embed_tokens.weight.zero_()
        net.lm_head.weight.zero_()
        for k, (a, b) in enumerate(rules.items()):
            net.model.embed_tokens.weight[a, k] = 1.0
            net.lm_head.weight[b, k] = 10.0


SHIFT_WRITERS = {"dream": write_dream, "llada": write_llada, **{n: r.write for n, r in QWEN_FAMILIES.items()}}


@pytest.mark.parametrize(
    "family, expected",
    [("dream", "x"), ("llada", "y"), *((n, "x" if r.shift else "y") for n, r in QWEN_FAMILIES.items())],
)
@pytest.mark.parametrize("use_cache", [True, False])
def test_shift_rule_reads_the_right_position(tmp_path, family, expected, use_cache):
    engine = model.load(SHIFT_WRITERS[family](tmp_path / f"{family}-instruct"), device="cpu")
    tok = engine.tok.encode
    # The token before the span ('a') favours 'x'; a mask favours 'y'. Dream reads position i-1: 'x'.
    make_echo(engine, {tok("a")[0]: tok("x")[0], engine.special.mask: tok("y")[0]})
    res = engine.infill(model.InfillRequest("a", "\n", budget=1), model.SamplerConfig(grow=False, use_cache=use_cache))
    assert res.text == expected


def test_dream_rows_begin_with_bos(dream):
    row = dream.make_row(model.InfillRequest("", "\nprint(1)\n", budget=4), 4)
    assert row.prefix[0] == 151665 and row.span[0] == dream.special.mask  # the first token is never a mask


# --- (c) chat template prompts ------------------------------------------------------------------------------
REQUEST = model.InfillRequest("import os\n\n\ndef add(a, b):\n", "\n\nprint(add(1, 2))\n", "    return a+b\n")
INSTRUCTION = "Add type hints and a docstring."


@pytest.mark.parametrize("family", ["dream", "llada"])
def test_chat_prompt_layout_matches_fixture(request, family):
    engine = request.getfixturevalue(family)
    ids = chat.prompt_ids(engine, REQUEST, INSTRUCTION)
    expected = (FIXTURES / f"chat_prompt_{family}.txt").read_text(encoding="utf-8")
    assert engine.tok.decode(ids) == expected
    header = {"dream": "<|im_start|>assistant\n", "llada": "<|start_header_id|>assistant<|end_header_id|>\n\n"}
    assert ids[-len(engine.tok.encode(header[family])) :] == engine.tok.encode(header[family])


def test_chat_prompt_keeps_context_within_budget(dream):
    long = replace(REQUEST, prefix="x = 1\n" * 2000, suffix="y = 2\n" * 2000)
    before, after = chat.context_text(dream, long)
    assert before.startswith("x = 1\n") and after.startswith("y = 2\n") and after.endswith("\n")  # whole lines
    assert 0.9 * dream.context_tokens < len(dream.tok.encode(before + after)) <= dream.context_tokens


@pytest.mark.parametrize("family", ["dream", "llada"])
def test_rewrite_answer_is_cut_at_end_of_turn(request, tmp_path, family):
    write = write_dream if family == "dream" else write_llada
    engine = model.load(write(tmp_path / f"{family}-Instruct"), device="cpu")
    end = {"dream": "<|im_end|>", "llada": "<|eot_id|>"}[family]
    everything = list(range(engine.net.cfg.vocab_size))
    for target, text in ((engine.tok.tok.token_to_id(end), ""), (engine.tok.encode("z")[0], None)):
        with torch.no_grad():  # every position favours `target`, whatever it holds
            make_echo(engine, {})
            engine.net.model.embed_tokens.weight[everything, 0] = 1.0
            engine.net.lm_head.weight[target, 0] = 10.0
        drafts = []
        res = engine.rewrite(REQUEST, INSTRUCTION, model.SamplerConfig(), on_draft=drafts.append)
        budget = engine.default_budget(REQUEST)
        assert res.text == ("z" * budget if text is None else text)
        assert res.new_tokens == len(res.text) and res.context_tokens == len(
            chat.prompt_ids(engine, REQUEST, INSTRUCTION)
        )
        assert drafts and end not in drafts[-1][0].text


def test_rewrite_is_cancelled_between_steps(dream):
    with pytest.raises(DenoiseCancelled):
        dream.rewrite(REQUEST, INSTRUCTION, should_stop=lambda: True)


def test_rewrite_takes_the_callers_context_budget(dream):
    long = replace(REQUEST, prefix="x = 1\n" * 500, suffix="y = 2\n" * 500)
    quick = model.SamplerConfig(max_steps=1)
    small = dream.rewrite(long, INSTRUCTION, quick, context_tokens=64)
    full = dream.rewrite(long, INSTRUCTION, quick)
    assert small.steps == 1 and small.context_tokens + 400 < full.context_tokens


def test_trim_answer_stops_at_the_first_end_token():
    assert chat.trim_answer([5, 6, 9, 7, 8], frozenset({9}), mask=1) == [5, 6]
    assert chat.trim_answer([5, 1, 6], frozenset({9}), mask=1) == [5, 6]


def test_fenced_answers_are_unwrapped():
    assert chat.strip_fence("```python\nx = 1\n```\n") == "x = 1\n"
    assert chat.strip_fence("x = 1") == "x = 1"


@pytest.mark.parametrize("write, name", [(write_dream, "Dream-v0-Base-7B"), (write_llada, "LLaDA-8B-Base")])
def test_base_variants_are_infill_only(tmp_path, write, name):
    engine = model.load(write(tmp_path / name, instruct=False), device="cpu")
    assert not engine.supports_chat
    with pytest.raises(ValueError, match="infill-only"):
        engine.rewrite(REQUEST, INSTRUCTION)


def test_base_named_checkpoint_with_an_inherited_template_is_infill_only(tmp_path):
    engine = model.load(write_dream(tmp_path / "Dream-Coder-v0-Base-7B", instruct=True), device="cpu")
    assert not engine.supports_chat


# --- hub ids ------------------------------------------------------------------------------------------------
def fake_hub_cache(cache: Path, repo: str, source: Path) -> Path:
    """The layout huggingface_hub writes: models--owner--name/{refs/main, snapshots/<commit>/...}."""
    import shutil

    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    shutil.copytree(source, root / "snapshots" / commit)
    return root / "snapshots" / commit


def test_hub_id_resolves_from_the_local_cache(tmp_path, dream_dir):
    snapshot = fake_hub_cache(tmp_path / "cache", "Dream-org/Dream-Coder-v0-Instruct-7B", dream_dir)
    folder = hub.resolve("Dream-org/Dream-Coder-v0-Instruct-7B", allow_download=False, cache_dir=tmp_path / "cache")
    assert folder == snapshot
    assert hub.display_name("Dream-org/Dream-Coder-v0-Instruct-7B", folder) == "Dream-org/Dream-Coder-v0-Instruct-7B"


def test_uncached_hub_id_without_downloads_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="not in the Hugging Face cache.*downloads are off"):
        hub.resolve("nobody/no-such-model", allow_download=False, cache_dir=tmp_path)


def test_offline_switch_wins_over_allow_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hub.downloads_allowed(True)


def test_local_paths_are_not_taken_for_hub_ids(tmp_path):
    assert hub.resolve(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not hub.looks_like_hub_id("./owner/name") and hub.looks_like_hub_id("GSAI-ML/LLaDA-8B-Instruct@main")


# --- the GPU check, on tiny shapes ---------------------------------------------------------------------------
def test_gpu_check_runs_on_cpu_with_tiny_shapes(capsys):
    from lsp_server.cli.main import main

    assert main(["bench", "--gpu", "--tiny", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    modes = {(r["batch"], r["tokens_per_step"], r["cache"]) for r in report["results"]}
    assert modes == {(b, k, c) for b in (1, 8) for k in (1, 8) for c in (True, False)}
    one = next(r for r in report["results"] if r["tokens_per_step"] == 1)
    assert one["steps"] == report["span_tokens"] and one["projected"] and one["steps_measured"] < one["steps"]
    assert all(r["tokens_per_s"] > 0 and r["peak_mem_gib"] > 0 for r in report["results"])
    assert report["cache_speedup_b1_k8"] > 0 and report["meets_target"] is False  # tiny runs never claim it
    block = report["block"]  # the block-diffusion shape (Fast-dLLM v2's layout, tiny)
    assert (block["block_size"], block["sub_block_size"]) == (8, 4)
    assert [r["tokens_per_step"] for r in block["results"]] == [1, 8]
    assert all(r["tokens_per_s"] > 0 and r["steps"] == report["span_tokens"] // min(4, r["tokens_per_step"])
               for r in block["results"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_dream_on_cuda_in_bf16_matches_float32(dream_dir, dream):
    gpu = model.load(dream_dir, device="cuda")
    assert next(gpu.net.parameters()).dtype == torch.bfloat16
    ids = random_ids(dream.net.cfg.vocab_size, seed=3)
    with torch.no_grad():
        ours = gpu.net(ids.cuda()).logits.float().cpu()
        ref = dream.net(ids).logits
    assert (ours - ref).abs().max() < 0.1  # bf16 rounding of tiny random weights
    assert gpu.infill(model.InfillRequest("def f(", "):\n", budget=4)).steps >= 1
