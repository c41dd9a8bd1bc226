"""Default values of the gates, in one place that imports nothing heavy.

Both `lsp_server.actions.Gates` (which needs torch) and `lsp_server.settings.Settings` (which must not) read these,
so a default changed here changes everywhere in Python. The VS Code manifest and its settings module keep their own
copies; `tests/test_gates.py` checks that they agree with these.
"""

from __future__ import annotations

# The confidence floors and Repair's margin (settings regenerateFloor, completionFloor, repairMargin), chosen from
# `instant-edit eval --gates` on held-out files with the embedded model (README, "Guard and floors"; CHANGELOG).
REGENERATE_FLOOR = 0.8
# 0.6 from session 32 (0.5 before): over 270 held-out line tails in three sets, 0.6 withheld 11 wrong completions
# for 1 right one with session 32's default, and 14 for 1 with session 30's.
COMPLETION_FLOOR = 0.6
REPAIR_MARGIN = 10.0
# Repair's spelling fixes: a known word one keystroke from a unique one replaces it when the model prefers it by
# this many nats (lsp_server/spelling.py). Chosen with `instant-edit eval --gates repair` on its --seed 1 lines
# and on whole held-out files, where 2 nats changed 2 correct words and 6 none (README, "Guard and floors").
SPELLING_MARGIN = 6.0
