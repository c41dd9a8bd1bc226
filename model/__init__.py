"""The diffusion model: network, tokenizer, sampler, training recipe and the shipped default checkpoint."""

from model.engine import Engine, InfillRequest, InfillResult, load, pick_threads
from model.sampler import SamplerConfig

__all__ = ["Engine", "InfillRequest", "InfillResult", "SamplerConfig", "load", "pick_threads"]
