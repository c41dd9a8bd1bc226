"""The `instant-edit` command (`main.py`), its subcommands one module each, the benchmarks and held-out
evaluations they run, and the batch converter (`batch/`): everything the user starts from a shell, beside the
language server it drives through the same pipeline functions."""
