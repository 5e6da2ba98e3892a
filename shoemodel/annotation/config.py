"""Configuration of annotation rounds and browsing, filled from the `annotation:` section of params.yaml.

The server URL and token never live in params.yaml (they differ per machine and the token is a
secret): they come from the environment, `LABEL_STUDIO_URL` and `LABEL_STUDIO_API_KEY`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from shoemodel.config import ParamPath

URL_ENV = "LABEL_STUDIO_URL"
TOKEN_ENVS = ("LABEL_STUDIO_API_KEY", "LABEL_STUDIO_USER_TOKEN")


@dataclass
class MLBackendConfig:
    """params.yaml `annotation.ml_backend` (shoemodel annotate ml-backend): what it serves and where it listens."""

    checkpoint: ParamPath = "models/wd"  # the WD folder `shoemodel train wd` writes
    sam_checkpoint: ParamPath = ""  # a SAM (.pth or transformers folder): masks for keypoint / box prompts
    pool: ParamPath = "data/sets/wearable_area"  # tasks from rounds carry a record id: their pixels come from here
    host: str = "127.0.0.1"
    port: int = 9090
    title: str = "shoemodel WD"
    device: str = ""  # "" = cuda when available, else cpu
    timeout_s: float = 30.0  # fetching a task image from Label Studio


@dataclass
class AnnotationConfig:
    """Where the pool, the work folder and the output set live, and how rounds are drawn."""

    pool: ParamPath = "data/sets/wearable_area"  # wearable-area-schema set whose images are annotated
    workdir: ParamPath = "data/annotation"  # ledger, snapshots, served images
    output: ParamPath = "data/sets/wearable_area_annotated"  # the annotated set, rebuilt by every import
    #: The import's snapshot of every task and annotation (JSONL). Kept in git in the project (annotation/tasks.jsonl,
    #: empty until a round is annotated) so the no-server `annotation_import` stage always has its input. "": workdir.
    snapshot: ParamPath = ""
    project_title: str = "shoemodel wearable area"
    #: Folder Label Studio serves (its LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, or an HTTP-served folder);
    #: round images are written below it. Empty: `workdir`.
    document_root: ParamPath = ""
    #: Prefix that turns a path relative to document_root into a URL Label Studio can load.
    image_url_prefix: str = "/data/local-files/?d="
    round_size: int = 200
    seed: int = 0
    #: Candidates scored by the WD model per round (a random subset of the unsent pool), bounding cost at scale.
    candidates: int = 2000
    #: "module:factory" returning a callable image -> 3-class mask or probabilities; empty: no WD model yet.
    predictor: str = ""
    predictor_args: dict[str, Any] = field(default_factory=dict)
    #: Tasks whose annotators agree less than this (mean pairwise IoU) are dropped for review.
    min_agreement: float = 0.0
    records_per_shard: int = 256
    timeout_s: float = 60.0
    ml_backend: MLBackendConfig = field(default_factory=MLBackendConfig)


def snapshot_path(cfg: AnnotationConfig) -> str:
    """Where the import writes (and the build reads) the task snapshot."""
    return cfg.snapshot or os.path.join(cfg.workdir, "tasks.jsonl")


@dataclass
class BrowseConfig:
    """Where FiftyOne media (decoded images, mask PNGs) are written, and how the App is served."""

    media_dir: ParamPath = "data/fiftyone"
    address: str = "127.0.0.1"
    port: int = 5151


def server_from_env(url: str | None = None, token: str | None = None) -> tuple[str, str]:
    """The Label Studio URL and API token: explicit values first, then the environment."""
    url = url or os.environ.get(URL_ENV) or "http://127.0.0.1:8080"
    if not token:
        token = next((os.environ[e] for e in TOKEN_ENVS if os.environ.get(e)), "")
    if not token:
        raise RuntimeError(
            f"no Label Studio API token: set {TOKEN_ENVS[0]} (Account & Settings -> Access Token in Label Studio)"
        )
    return url.rstrip("/"), token
