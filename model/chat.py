"""Chat-template prompts for instruction-tuned checkpoints (Dream-Instruct, DiffuCoder-Instruct, LLaDA-Instruct).

A rewrite becomes one user turn holding the span and the file around it, rendered with the checkpoint's own chat
template, followed by a block of masks as the assistant's answer. The model ends its answer with the end-of-turn
token and fills the rest of the block with end-of-text; the answer is cut at the first of those.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from model.families import token_text, tokenizer_settings

# End-of-turn tokens of the known templates (Qwen/Dream, LLaDA/Llama 3) and end-of-text tokens.
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end_of_text|>")
# Base and infill-only variants ship a chat template inherited from their tokenizer but were not tuned on it.
INFILL_ONLY_NAME = re.compile(r"base|dreamon", re.IGNORECASE)
FENCE = re.compile(r"^```[\w+-]*\n(.*?)\n?```\s*$", re.DOTALL)


@dataclass(frozen=True)
class ChatFormat:
    """What a checkpoint's tokenizer files say about chatting with it."""

    template: str
    bos_token: str
    eos_token: str
    stop_ids: frozenset[int]  # the answer ends at the first of these


def read_template(folder: Path, settings: dict) -> str | None:
    """The default chat template: tokenizer_config.json's, or chat_template.jinja / .json beside it."""
    template = settings.get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": "default", "template": ...}, ...]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    if template:
        return template
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text(encoding="utf-8")
    if (folder / "chat_template.json").is_file():
        return json.loads((folder / "chat_template.json").read_text(encoding="utf-8")).get("chat_template")
    return None


def stop_ids(folder: Path, tok, end_ids: set[int]) -> frozenset[int]:
    """eos and pad, the known end-of-turn tokens in the vocabulary, and generation_config.json's eos ids."""
    ids = set(end_ids) | {i for i in map(tok.token_to_id, END_OF_TURN) if i is not None}
    gen = folder / "generation_config.json"
    if gen.is_file():
        extra = json.loads(gen.read_text(encoding="utf-8")).get("eos_token_id")
        ids |= set(extra if isinstance(extra, list) else [extra] if extra is not None else [])
    return frozenset(ids)


def read_chat_format(folder: Path, name: str, tok, end_ids: set[int]) -> ChatFormat | None:
    """The checkpoint's chat format when it is an instruction-tuned variant, else None (infill only)."""
    settings = tokenizer_settings(folder)
    template = read_template(folder, settings)
    if not template or INFILL_ONLY_NAME.search(name):
        return None
    bos = token_text(settings.get("bos_token")) or ""
    eos = token_text(settings.get("eos_token")) or ""
    return ChatFormat(template, bos, eos, stop_ids(folder, tok, end_ids))


def render(fmt: ChatFormat, user_text: str) -> str:
    """The prompt text up to and including the assistant's header, as the template writes it."""
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str):
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(fmt.template).render(
        messages=[{"role": "user", "content": user_text}],
        add_generation_prompt=True,
        bos_token=fmt.bos_token,
        eos_token=fmt.eos_token,
    )


def fenced(title: str, text: str) -> str:
    return f"{title}\n```\n{text}{'' if text.endswith(chr(10)) or not text else chr(10)}```\n"


def user_turn(instruction: str, before: str, span: str, after: str) -> str:
    """The user's message: the file before the span, the span, the file after it, then the task."""
    parts = []
    if before:
        parts.append(fenced("File content before the code to rewrite:", before))
    parts.append(fenced("Code to rewrite:", span))
    if after:
        parts.append(fenced("File content after the code to rewrite:", after))
    parts.append(f"Task: {instruction.strip()}\nReply with only the rewritten code.")
    return "\n".join(parts)


def trim_answer(ids: list[int], stops: frozenset[int], mask: int) -> list[int]:
    """The answer up to its first end-of-turn token; positions still open (cancelled early) are dropped."""
    out = []
    for t in ids:
        if t in stops:
            break
        if t != mask:
            out.append(t)
    return out


def strip_fence(text: str) -> str:
    """Chat models often wrap code in a fenced block; the editor wants the code alone."""
    m = FENCE.match(text.strip("\n"))
    return m.group(1) + ("\n" if text.endswith("\n") else "") if m else text


def context_text(engine, request, context_tokens: int | None = None) -> tuple[str, str]:
    """The file before and after the span, cut to the context budget (the engine's by default) at line edges."""
    room = context_tokens or engine.context_tokens
    before = engine.encode_prefix(request.prefix, room // 2)
    after = engine.encode_suffix(request.suffix, room - len(before))
    drop = {engine.special.bos, engine.special.eos}
    return engine.tok.decode([t for t in before if t not in drop]), engine.tok.decode(
        [t for t in after if t not in drop]
    )


def prompt_ids(engine, request, instruction: str, context_tokens: int | None = None) -> list[int]:
    before, after = context_text(engine, request, context_tokens)
    return engine.tok.encode(render(engine.chat_format, user_turn(instruction, before, request.span, after)))


def rewrite(
    engine,
    request,
    instruction: str,
    sampler,
    on_draft: Callable | None = None,
    should_stop: Callable | None = None,
    context_tokens: int | None = None,
):
    """Denoise an answer block after the chat prompt; returns an InfillResult whose text is the trimmed answer."""
    import torch

    from model.requests import Draft, InfillResult
    from model.sampler import Row, Sampler, SamplerConfig

    fmt = engine.chat_format
    prompt = prompt_ids(engine, request, instruction, context_tokens)
    budget = engine.default_budget(request)
    cfg = replace(sampler or SamplerConfig(), grow=False)  # the answer block has a fixed size
    runner = Sampler(engine.net, engine.special, cfg)
    # The result drops pad ids, and the family's pad is usually its end-of-text token, which can also end an
    # answer: keep the last full span the sampler reported so the answer is cut where the model ended it.
    last: list[list[int]] = []

    def report(rep) -> None:
        last[:] = rep.spans
        if on_draft:
            on_draft(
                [
                    Draft(rep.step, engine.render(trim_answer(s, fmt.stop_ids, -1)), n)
                    for s, n in zip(rep.spans, rep.open_positions)
                ]
            )

    with torch.inference_mode():
        res = runner.run([Row(prompt, [], [engine.special.mask] * budget)], report, should_stop)[0]
    full = last[0] if last else res.span
    answer = trim_answer(full, fmt.stop_ids, engine.special.mask)
    return InfillResult(
        text=strip_fence(engine.tok.decode(answer)),
        steps=res.steps,
        nfe=runner.predictor.nfe,
        new_tokens=len(answer),
        grown=0,
        remasked=res.remasked,
        min_confidence=min(res.confidence[: len(answer)], default=1.0),
        context_tokens=len(prompt),
    )
