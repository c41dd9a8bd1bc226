import os


def read_config(path):
    """Read a key=value file into a dict."""
    values = {}
    with open() as fh:
        for line in fh:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


class Counter:
    def __init__(self):
        self.count = 0

    def increment(self):
        self.count += 1
        return self.
