"""A deeper network that answers exactly as the one it grows from: room for a trained model to learn more.

The embedded model is small enough that held-out and training holes score alike (it is short of capacity, not
of data), and retraining a larger one from scratch would throw away the hours already spent. So new blocks are
inserted between the trained ones, each a copy of the block before it with its two output projections (attention
`o_proj`, MLP `down_proj`) set to zero: such a block adds nothing to the residual stream, so the grown network's
outputs equal the old ones, and training opens the new blocks from there (block expansion, as LLaMA Pro does).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import torch

from model.checkpoint import load_network, save_network
from model.network import Block, Denoiser


def insert_after(layers: int, new: int) -> list[int]:
    """Indices of the trained blocks each new block follows, spread evenly: 4 blocks + 2 -> after 1 and 3."""
    return [((i + 1) * layers - 1) // new for i in range(max(0, new))]  # in [0, layers - 1] for any `new`


def silent_copy(block: Block) -> Block:
    """A copy of `block` that adds nothing to the residual stream until training changes it."""
    twin = copy.deepcopy(block)
    with torch.no_grad():
        twin.self_attn.o_proj.weight.zero_()
        twin.mlp.down_proj.weight.zero_()
    return twin


def grow_depth(net: Denoiser, layers: int) -> Denoiser:
    """`net` with `layers` blocks in all; the outputs are unchanged. A network already that deep is returned."""
    old = net.cfg.num_hidden_layers
    if layers < old:
        raise ValueError(f"cannot grow a {old}-layer network to {layers} layers")
    if layers == old:
        return net
    after = insert_after(old, layers - old)
    blocks: list[Block] = []
    for i, block in enumerate(net.model.layers):
        blocks.append(block)
        blocks += [silent_copy(block) for _ in range(after.count(i))]
    assert len(blocks) == layers
    grown = Denoiser(replace(net.cfg, num_hidden_layers=layers))
    grown.load_state_dict(net.state_dict(), strict=False)  # embeddings, final norm, head
    grown.model.layers = torch.nn.ModuleList(blocks)
    return grown.to(next(net.parameters()).device)


def grow_run(folder: Path, layers: int) -> bool:
    """Grow the network of the run in `folder` to `layers` blocks in place; False when it is that deep already.

    The optimizer state, shaped for the old network, is dropped: Adam starts afresh, as after any committed
    checkpoint (which keeps none)."""
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder} holds no network to grow (start a new one with --layers instead)")
    net = load_network(folder)
    if net.cfg.num_hidden_layers == layers:
        return False
    save_network(grow_depth(net, layers), folder)
    (folder / "optimizer.safetensors").unlink(missing_ok=True)
    return True
