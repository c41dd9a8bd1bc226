"""The recipe comparison's table: one held-out report per recipe, gathered into `recipe_comparison.json`.

`python3 -m model.comparison OUT TOKENS` reads `OUT/<recipe>.eval.json` (from `instant-edit eval --likelihood`)
and writes `OUT/recipe_comparison.json`; copied beside a checkpoint, the model card shows it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from model.recipe import RECIPES

EVAL_COMMAND = "instant-edit eval --model DIR --kinds line lines random --cases 100 --samplers fast --likelihood"


def shipped_tokens() -> int:
    from model.engine import DEFAULT_CHECKPOINT

    return json.loads((DEFAULT_CHECKPOINT / "train_state.json").read_text())["tokens_seen"]


def gather(out: Path, tokens: int) -> dict:
    rows = []
    for recipe in (*RECIPES, "shipped"):  # "shipped": the embedded model as it was, for reference
        path = out / f"{recipe}.eval.json"
        if not path.exists():
            continue
        label = recipe if recipe != "shipped" else f"shipped model (mdlm, {shipped_tokens():,} tokens)"
        for kind, report in json.loads(path.read_text()).items():
            rows.append({"recipe": label, "kind": kind, **report["likelihood"], **{
                k: v for k, v in report["fast"].items() if k != "cases"}})
    return {"tokens_per_recipe": tokens, "eval_command": EVAL_COMMAND, "rows": rows}


def table_lines(comparison: dict) -> list[str]:
    lines = [
        f"Each recipe trained {comparison['tokens_per_recipe']:,} tokens from random weights with the same "
        f"tokenizer, one CPU thread each; evaluated with `{comparison['eval_command']}` (same held-out holes for "
        "all; a `shipped.eval.json` beside them adds the model shipped at the time for reference). Hole CE and token accuracy score the true span in one pass with the whole budget masked; the "
        "rest is the fast sampler's output.",
        "",
        "| recipe | kind | hole CE | token accuracy | exact match | edit similarity | still parses | NFE/token |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in comparison["rows"]:
        lines.append(
            f"| {r['recipe']} | {r['kind']} | {r['hole_ce']:.3f} | {r['token_accuracy']:.1%} | {r['exact_match']:.1%} "
            f"| {r['edit_similarity']:.3f} | {r['parse_rate']:.1%} | {r['nfe_per_token']:.2f} |"
        )
    return lines


def main(argv: list[str]) -> int:
    out, tokens = Path(argv[0]), int(argv[1])
    comparison = gather(out, tokens)
    (out / "recipe_comparison.json").write_text(json.dumps(comparison, indent=2) + "\n")
    print("\n".join(table_lines(comparison)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
