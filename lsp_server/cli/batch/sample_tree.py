"""A small deterministic source tree for the conversion tests and `instant-edit bench --convert`."""

from __future__ import annotations

from pathlib import Path

PY_FUNCTION = '''def {name}(values, factor={n}):
    """Scale and sum the values."""
    total = 0
    for value in values:
        total += value * factor
    return total
'''
PY_CLASS = """class {cls}:
    def __init__(self, size={n}):
        self.size = size
        self.items = []

    def push(self, item):
        self.items.append(item)
        return len(self.items)
"""
JS_FUNCTION = """function {name}(items) {{
  let count = {n};
  for (const item of items) {{
    count += item.length;
  }}
  return count;
}}
"""


def python_module(n: int, placeholders: bool = False) -> str:
    body = "    pass  # TODO\n" if placeholders else "    return a + b\n"
    head = f"import os\nimport sys\n\nLIMIT = {n}\n\n\n"
    parts = [PY_FUNCTION.format(name=f"scale_{n}_{i}", n=n + i) for i in range(2)]
    parts.append(PY_CLASS.format(cls=f"Stack{n}", n=n))
    parts.append(f"def add_{n}(a, b):\n{body}")
    return head + "\n\n".join(parts)


def build(root: Path, modules: int = 4, js: int = 1, placeholders: bool = False) -> list[Path]:
    """Python packages and a few JavaScript files under `root`; returns the files written."""
    written = []
    for n in range(modules):
        path = root / f"pkg{n % 2}" / f"mod{n}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(python_module(n, placeholders))
        written.append(path)
    for n in range(js):
        path = root / "web" / f"app{n}.js"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(JS_FUNCTION.format(name=f"count{n}_{i}", n=i) for i in range(2)))
        written.append(path)
    return written
