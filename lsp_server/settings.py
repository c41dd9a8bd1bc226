"""Server settings: defaults < client (initializationOptions, then didChangeConfiguration) < instant-edit.toml.

Client keys are camelCase, the toml file's are snake_case; both are converted here, once. Unknown keys and
values of the wrong type are reported and skipped, never fatal.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from lsp_server.gate_defaults import COMPLETION_FLOOR, REGENERATE_FLOOR, REPAIR_MARGIN, SPELLING_MARGIN

TOML_NAME = "instant-edit.toml"
DTYPE_CHOICES = ("auto", "float32", "bfloat16", "int8")  # model.engine.DTYPES and INT8 (not imported: no torch here)
EMBEDDED_COMPLETION_CONTEXT = 128  # inline completion context by default (Settings.completion_context)
CHECKPOINT_COMPLETION_CONTEXT = 256


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # checkpoint folder; None: the embedded default
    device: str = "auto"
    # Weights: auto (bf16 on a GPU or a CPU with hardware bf16, else float32), float32, bfloat16, or int8 (CPU:
    # Linear layers quantized; a typing completion of the embedded model 19% faster here, README "Performance").
    dtype: str = "auto"
    threshold: float = 0.9
    max_steps: int = 0
    pad_run_above: float = 0.5  # see SamplerConfig.pad_run_above; 0 turns it off
    context_tokens: int = 512
    inline_completion: bool = True
    # Inline completions read less context than the actions: the first full pass dominates their latency and
    # scales with it. 0: by the model (`completion_context`).
    completion_context_tokens: int = 0
    # Wait before a typing-triggered completion the cache cannot answer; negative: adapt to the typing speed and
    # the model's latency (lsp_server.inline.Debounce).
    completion_debounce_ms: float = -1.0
    # torch threads on the CPU; 0: one per two cores (on a 2-core machine that another process keeps busy, two
    # threads made a completion 26x slower than one, README "Performance").
    threads: int = 0
    # Next-edit suggestions: kept when the recent edits move the model's preference for the new text over the old
    # by at least this many nats (lsp_server/next_edits.judge); at most this many. -8 was chosen on the second
    # `eval --next-edit` suite (--seed 1), where it kept precision above 90% with the most recall (README); with
    # the default model of session 20 precision stayed at 95% from -8 to -2 while recall fell from 90% to 72%.
    next_edit_margin: float = -8.0
    next_edit_max: int = 5
    # Context each next-edit candidate is judged with: every candidate is scored twice (with the recent edits and
    # without), so this sets their latency. On the --seed 1 suite, 512 and 256 judged alike; 128 lost 2 points of
    # recall, gained 1.5 of precision, and took half the time of 256.
    next_edit_context_tokens: int = 128
    # Candidates judged per request, nearest the cursor first: at most `next_edit_max` come back, and accepting one
    # asks again for the rest, so judging every place of a long file at once would only add latency.
    next_edit_candidates: int = 8
    # When the edit matches no known change: the lines within this many of it are written anew by the model and a
    # different line is suggested only at this stricter margin. Off (0) by default: on `eval --next-edit` the
    # embedded model's rewritten lines were all wrong, even at 4 nats (README "Next edits").
    next_edit_nearby_lines: int = 0
    next_edit_rewrite_margin: float = 2.0
    # After an edit, wait this long without another change before preparing next edits in the background (they
    # then answer inline completions on their lines); negative: only when asked (instantEdit/nextEdits).
    next_edit_pause_ms: float = 300.0
    # The gates (lsp_server.actions.Gates): confidence floors for Regenerate and typing-triggered completions
    # (0: off) and Repair's margin in nats.
    regenerate_floor: float = REGENERATE_FLOOR
    completion_floor: float = COMPLETION_FLOOR
    repair_margin: float = REPAIR_MARGIN
    # Repair's spelling fixes (lsp_server/spelling.py): a unique word one keystroke from a known one is corrected
    # when the model prefers the correction by `spelling_margin` nats; off, Repair only reopens unlikely tokens.
    repair_spelling: bool = True
    spelling_margin: float = SPELLING_MARGIN

    def completion_context(self) -> int:
        """Context tokens of an inline completion: the setting, else 128 for the embedded model and 256 for
        another checkpoint. With the embedded model 128 instead of 256 took the typing miss p50 from 79 to 58 ms
        (`instant-edit bench --lsp --typing`), and it reads no more from a longer context: on 150 held-out line
        ends exact match was 12% at 128, 256 and 512 tokens, hole cross-entropy 5.195 / 5.190 / 5.190 (README,
        "Performance"). A larger checkpoint may use the longer context, so it keeps the 256 it had before."""
        if self.completion_context_tokens:
            return self.completion_context_tokens
        return EMBEDDED_COMPLETION_CONTEXT if self.model is None else CHECKPOINT_COMPLETION_CONTEXT

    def model_key(self) -> tuple[str | None, str, int, int, str]:
        """What identifies a loaded engine: a change here means reloading the model."""
        return self.model, self.device, self.context_tokens, self.threads, self.dtype

    def as_dict(self) -> dict[str, Any]:
        return {snake_to_camel(k): v for k, v in asdict(self).items()}


def camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def _kind(name: str) -> str:
    return {f.name: f.type for f in fields(Settings)}[name]


def _valid(name: str, value: Any) -> bool:
    kind = _kind(name)
    if name == "model":
        return value is None or isinstance(value, str)
    if name == "dtype":
        return value in DTYPE_CHOICES
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


def overrides(raw: Any, snake: bool = False) -> tuple[dict[str, Any], list[str]]:
    """Valid settings from a client or toml dict, and a message per rejected key."""
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, [f"settings must be an object, got {type(raw).__name__}"]
    raw = raw.get("instantEdit", raw.get("instant-edit", raw))  # accept both nested and flat shapes
    names = {f.name for f in fields(Settings)}
    good, problems = {}, []
    for key, value in (raw or {}).items():
        name = key if snake else camel_to_snake(key)
        if name not in names:
            problems.append(f"unknown setting {key!r}")
        elif not _valid(name, value):
            problems.append(f"setting {key!r} has an invalid value {value!r}")
        else:
            good[name] = float(value) if _kind(name) == "float" else value  # an int given for a float
    return good, problems


class TomlUnreadable(Exception):
    """instant-edit.toml exists but cannot be read or parsed; the message names the file and the error."""


def _toml_data(root: Path | None) -> dict[str, Any] | None:
    """The parsed file, None when there is none."""
    if root is None or not (root / TOML_NAME).is_file():
        return None
    try:
        return tomllib.loads((root / TOML_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise TomlUnreadable(f"{TOML_NAME}: {e}") from e


def read_toml(root: Path | None) -> tuple[dict[str, Any], list[str]]:
    """Overrides from `instant-edit.toml` in the workspace root (missing file: none)."""
    try:
        data = _toml_data(root)
    except TomlUnreadable as e:
        return {}, [str(e)]
    return overrides(data, snake=True) if data is not None else ({}, [])


def reload_toml(root: Path | None, previous: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Like `read_toml`, but a file that does not parse keeps the `previous` overrides (the problem is reported)."""
    try:
        data = _toml_data(root)
    except TomlUnreadable as e:
        return previous, [str(e), f"{TOML_NAME}: keeping its previous settings until it parses"]
    return overrides(data, snake=True) if data is not None else ({}, [])


def merge(client: dict[str, Any], toml: dict[str, Any]) -> Settings:
    return replace(Settings(), **{**client, **toml})
