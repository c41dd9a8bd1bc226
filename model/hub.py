"""`--model PATH_OR_ID`: a local folder as it is, or a Hugging Face hub id found in the local cache.

A hub id is fetched over the network only when downloads are allowed (the `allow_download` argument, else the
environment variable INSTANT_EDIT_ALLOW_DOWNLOAD=1) and the hub is not switched off (HF_HUB_OFFLINE=1). Only
the files the engine reads are fetched: configs, safetensors weights and tokenizer files, never code or pickles.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from model.checkpoint import CheckpointError

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?")
WANTED_FILES = ["*.json", "*.safetensors", "merges.txt", "vocab.json", "*.jinja"]
TRUE = {"1", "true", "yes", "on"}


def downloads_allowed(allow_download: bool | None) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in TRUE:
        return False
    if allow_download is not None:
        return allow_download
    return os.environ.get("INSTANT_EDIT_ALLOW_DOWNLOAD", "").lower() in TRUE


def looks_like_hub_id(text: str) -> bool:
    """owner/name[@revision], and not something that reads as a filesystem path."""
    return bool(HUB_ID.fullmatch(text)) and not text.startswith((".", "~"))


def split_id(text: str) -> tuple[str, str | None]:
    repo, _, revision = text.partition("@")
    return repo, revision or None


def resolve(path_or_id: str | Path, allow_download: bool | None = None, cache_dir: str | Path | None = None) -> Path:
    """The local folder for a path or a hub id; a folder that does not exist is returned for the loader to report."""
    local = Path(path_or_id).expanduser()
    text = str(path_or_id)
    if local.exists() or not looks_like_hub_id(text):
        return local
    repo, revision = split_id(text)
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError
    except ImportError:
        raise CheckpointError(f"{text!r} is not a local folder, and huggingface_hub is not installed") from None
    cached = _snapshot(snapshot_download, HFValidationError, repo, revision, cache_dir, local_only=True)
    if cached:
        return cached
    if not downloads_allowed(allow_download):
        raise CheckpointError(
            f"{text!r} is not a local folder and is not in the Hugging Face cache; downloads are off "
            "(set INSTANT_EDIT_ALLOW_DOWNLOAD=1, or download it yourself and pass the folder)"
        )
    fetched = _snapshot(snapshot_download, HFValidationError, repo, revision, cache_dir, local_only=False)
    if not fetched:
        raise CheckpointError(f"could not download {text!r} from the Hugging Face hub (no network, or no such model)")
    return fetched


def _snapshot(download, validation_error, repo, revision, cache_dir, local_only: bool) -> Path | None:
    """One snapshot_download attempt; None when the hub library says it cannot (offline, missing, no access)."""
    try:
        return Path(
            download(
                repo,
                revision=revision,
                cache_dir=cache_dir,
                local_files_only=local_only,
                allow_patterns=WANTED_FILES,
            )
        )
    except validation_error as e:
        raise CheckpointError(f"{repo!r} is not a valid hub id ({e})") from e
    except (OSError, ValueError):  # the hub's not-found, offline and HTTP errors all derive from these
        return None


def display_name(path_or_id: str | Path | None, folder: Path) -> str:
    """The hub id when one was given (a cache snapshot's folder is a commit hash), else the folder's name."""
    if path_or_id and not Path(path_or_id).expanduser().exists() and looks_like_hub_id(str(path_or_id)):
        return split_id(str(path_or_id))[0]
    return folder.name
