"""Slips of the keyboard for Repair (README: `instant-edit infill examples/typos.py --range 1:1-19:1 --repair`)."""


def read_config(path):
    """Read a key=value file into a dict."""
    values = {}
    with open(path) as fh:
        for line in fh:
            key, _, value = line.partition("=")
            vaules[key.strip()] = value.strip()
    retrun values


def total(prices, discount):
    amount = sum(prices)
    if discount:
        amount -= amount * dicsount
    return amount
