"""Byte-level BPE tokenizer for code, stored as Hugging Face tokenizer files.

The files load with `transformers.AutoTokenizer`; the engine uses the `tokenizers` object directly because it is
faster and the engine only needs ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

EOS = "<|endoftext|>"
MASK = "<|mask|>"
PAD = "<|pad|>"
SPECIAL_TOKENS = [EOS, MASK, PAD]


@dataclass(frozen=True)
class SpecialIds:
    """Ids the sampler needs: the mask to denoise, the pad that marks unused budget, and the document edge."""

    mask: int
    pad: int
    eos: int
    bos: int


class CodeTokenizer:
    """Thin wrapper over `tokenizers.Tokenizer`: text <-> ids without adding any special token."""

    def __init__(self, tok: Tokenizer, special: SpecialIds):
        self.tok = tok
        self.special = special

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=False)

    def token_texts(self) -> list[str]:
        """Each id's own text (special tokens as empty strings), in id order."""
        return self.tok.decode_batch([[i] for i in range(self.vocab_size)], skip_special_tokens=True)

    @classmethod
    def load(cls, folder: Path, special: SpecialIds | None = None) -> CodeTokenizer:
        tok = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        return cls(tok, special or special_ids_from(tok))


def special_ids_from(tok: Tokenizer) -> SpecialIds:
    def need(token: str) -> int:
        i = tok.token_to_id(token)
        if i is None:
            raise ValueError(f"tokenizer has no {token!r} token")
        return i

    eos = need(EOS)
    return SpecialIds(mask=need(MASK), pad=need(PAD), eos=eos, bos=eos)


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    """Train byte-level BPE; special tokens take ids 0..2 so every checkpoint agrees on them."""
    tok = Tokenizer(models.BPE())
    # No prefix space: code is tokenized in pieces (prefix, span, suffix) and must not gain spaces.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def save_tokenizer(tok: Tokenizer, folder: Path) -> None:
    """Write `tokenizer.json` plus the config files AutoTokenizer reads."""
    folder = Path(folder)
    tok.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": EOS,
        "eos_token": EOS,
        "mask_token": MASK,
        "pad_token": PAD,
        "model_max_length": 1024,
        "clean_up_tokenization_spaces": False,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    special_map = {"bos_token": EOS, "eos_token": EOS, "mask_token": MASK, "pad_token": PAD}
    (folder / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2) + "\n")
