"""Batch conversion of a tree: walk files, split them into syntax units, run the units through the engine in
batches, guard the syntax, and write the results atomically with a journal that makes runs resumable."""
