"""Curation settings: one dataclass per stage, filled from the `curation:` section of params.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shoemodel.config import ParamPath
from shoemodel.curation.backends import DetectBackend, PoseBackend, SegmentBackend
from shoemodel.parallel import ExecutorConfig


@dataclass
class IngestConfig:
    """Which raw files become candidates, and which are refused before any model sees them."""

    sources: list[ParamPath] = field(default_factory=list)  # folders, list files (.txt), Parquet manifests, single files/URIs
    optional_sources: list[ParamPath] = field(default_factory=list)  # read when present, skipped with a note when not
    formats: list[str] = field(default_factory=lambda: ["JPEG", "PNG", "WEBP", "BMP"])
    min_side: int = 32
    max_pixels: int = 60_000_000  # bigger files are refused before decoding (decompression bombs)
    max_bytes: int = 50_000_000
    near_duplicates: bool = True  # drop perceptual-hash near duplicates too (re-encoded copies must not straddle splits)
    phash_max_distance: int = 4  # Hamming distance of 64-bit pHashes counted as "near"
    part_size: int = 64  # images per part file (one task)
    bytes: str = "reference"  # reference: parts keep URI + SHA-256 + size + EXIF orientation, later stages read the file | copy
    copy_sources: list[ParamPath] = field(default_factory=list)  # folders / files / URI prefixes that may change or vanish: copied


@dataclass
class DetectConfig:
    """Person filter: keep images with a confident person whose box holds the lower legs."""

    backend: DetectBackend = "auto"  # auto or a detect backend of shoemodel.curation.backends
    weights: ParamPath = ""  # .onnx for yolox_onnx, .pt/.yaml for ultralytics
    input_size: int = 416
    score_threshold: float = 0.5
    nms_threshold: float = 0.45
    min_box_height_frac: float = 0.2  # person box height / image height
    bottom_margin_frac: float = 0.01  # box must end this fraction of the height above the image bottom (feet in view; 0: no check)
    min_ankle_score: float = 0.3  # used when the detector also gives keypoints (pose models)
    max_feet_occlusion: float = 0.3  # share of a person's feet zone (box bottom 15 %) a person in front may cover
    max_persons: int = 8  # persons kept per image (largest first); each one that passes pose and QC is a record
    batch_size: int = 8  # images per detector call
    device: str = "auto"  # auto | cpu | cuda | cuda:N (onnxruntime: TensorRT / CUDA provider when present)
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16 (ultralytics: half on a GPU for the last two)
    loader_threads: int = 2  # threads decoding the next batch while the model runs (0: decode in line)


@dataclass
class PoseConfig:
    """Whole-body pose on each kept person box, reduced to the 12 shoe-leg keypoints, then quality filters."""

    backend: PoseBackend = "mediapipe"  # a pose backend of shoemodel.curation.backends
    weights: ParamPath = ""  # onnx_wholebody: RTMW / DWPose .onnx; vitpose: a from_pretrained folder; mmpose: checkpoint
    config: ParamPath = ""  # mmpose: model config file
    model_complexity: int = 1  # mediapipe: 1 (full) ships in the wheel; 0 and 2 download unless copied in
    dataset_index: int = 0  # vitpose: ViTPose++ expert (MoE) to use; ignored by single-expert models
    box_padding: float = 0.25  # person box enlarged by this fraction before cropping (0.25: mmpose's 1.25)
    min_point_score: float = 0.5  # points below are stored as missing (0, 0, 0)
    foot_points: list[str] = field(default_factory=lambda: ["ankle", "big_toe", "heel"])  # a "complete" foot has all
    min_complete_feet: int = 1
    min_leg_frac: float = 0.05  # hip-to-knee and knee-to-ankle length / person box height, when both are present
    max_leg_frac: float = 0.9
    box_slack: float = 0.1  # points farther outside the person box than this x its size are another person's: missing
    max_foot_frac: float = 0.3  # ankle-to-toe/heel / person box height (a foot is ~0.15 of a standing body)
    max_foot_calf_ratio: float = 1.2  # ankle-to-toe/heel / knee-to-ankle (a foot is ~0.6 of a calf)
    check_left_right: bool = True  # each foot's toes and heel nearer its own ankle than the other ankle
    repair_left_right: bool = True  # before that check: swap a heel/toe given to the wrong foot on both feet, drop a lone one
    derive_heel: bool = True  # a weak heel with confident ankle and big toe: placed under the ankle on the leg line
    batch_size: int = 8  # images per call; all person crops of the batch go through the model together
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16 (auto: bf16 on a GPU that has it, fp32 on CPU)
    loader_threads: int = 2


@dataclass
class SegmentConfig:
    """Shoe masks from foot keypoints: SAM prompts per foot, then mask QC."""

    backend: SegmentBackend = "shoe_prior"  # a segment backend of shoemodel.curation.backends (shoe_prior: shipped, offline)
    weights: ParamPath = ""  # sam: .pth checkpoint; hf_sam: from_pretrained folder
    model_type: str = ""  # vit_b / vit_l / vit_h; empty: read from the file name, else from the checkpoint itself
    box_padding: float = 0.6  # foot box grows by this fraction of the foot size
    negative_on_calf: bool = True
    person_mask: str = "selfie"  # grabcut: MediaPipe person mask (selfie | pose | none = seeds on the points only)
    person_threshold: float = 0.5  # person probability counted as person
    foot_margin: float = 0.3  # grabcut: the shoe lies within this x foot length of the ankle/heel/toe hull
    ankle_margin: float = 0.2  # grabcut: more than this x foot length above the ankle (towards the knee) is leg
    sole_margin: float = 0.3  # grabcut: the region reaches this x foot length below the heel/toe points (the sole)
    silhouette_reach: float = 1.0  # grabcut: person pixels up to this x foot length below the foot region, connected to it
    max_box_fill: float = 0.85  # mask area / its prompt box area above this: the box, not a shoe
    min_foot_area_ratio: float = 0.1  # mask area / expected foot area below this: a speck
    min_foot_length_frac: float = 0.07  # expected foot length >= this x person box height (a foot ~ 0.15 of a body)
    min_thickness_ratio: float = 0.12  # mask mean thickness / length below this: a line, not a shoe (~0.35)
    max_other_foot_frac: float = 0.4  # share of the mask nearer the other foot's points
    max_above_ankle_frac: float = 0.5  # share of the mask above the ankle (towards the knee)
    max_components: int = 3  # connected components after removing specks
    max_leg_overlap: float = 0.35  # fraction of mask pixels on the calf band above the ankle
    min_feet: int = 1  # feet with a mask that passes QC
    # the shoe priors whose maps are averaged into the mask (folders of shoe_prior.safetensors + card.json); []: the two
    # shipped in the package, 96 px (models/shoe_prior/weights) and 128 px (weights_128). On the CCP val split (pipeline,
    # min_quality 0, runs on train alone) their mean beats either alone: kept right 0.88 / 0.87 -> 0.89, mean IoU
    # 0.738 / 0.749 -> 0.762; the shipped two are that recipe refit on train + val
    prior_weights: list[ParamPath] = field(default_factory=list)
    prior_threshold: float = 0.5  # shoe_prior backend: shoe probability counted as shoe
    prior_reach: float = 0.5  # shoe_prior backend: keep mask parts within this x foot length of the foot's points
    prior_ankle_margin: float = 0.0  # shoe_prior backend: > 0 drops mask pixels this x foot length above the ankle (leg)
    prior_person_mask: str = "none"  # shoe_prior backend: selfie | pose keeps only pixels the person mask calls person
    prior_person_threshold: float = 0.2  # shoe_prior backend: person probability counted as person (shoes score low)
    prior_fallback: str = "grabcut"  # shoe_prior backend: grabcut (a foot the prior finds nothing for) | none
    # shoe_prior backend: the crops the prior's probability is averaged over, zooms of the foot crop, "f" = mirrored.
    # "1,1f" chosen on the CCP val split: the 96 px prior alone gained most from views (mean IoU 0.728 -> 0.738, IoU >=
    # 0.5 0.82 -> 0.88 with "1,1f,1.25"); the mean of the two shipped priors is as good on "1,1f" as on "1,1f,1.25"
    # (pipeline, min_quality 0: kept right 0.89 / 0.89, mean IoU 0.762 / 0.755) at 4 network runs per person, not 6
    prior_views: str = "1,1f"
    # the views the quality check runs the prior on: none of prior_views, so a mask that changes with the crop disagrees
    prior_check_views: str = "0.85f,1.15"
    # the prior the quality check runs ("": the checker shipped in the package, shoemodel/models/shoe_prior/check, trained
    # also on legs without shoes; on the fixture photos it drops masks on a ball, a leg and a reflection that the
    # segmenting prior is sure of, at the same CCP val kept-right share)
    prior_check_weights: ParamPath = ""
    sam_prior_prompts: bool = True  # sam / hf_sam: box, sure-shoe positives and not-shoe negatives from the shoe prior
    prior_check: bool = True  # every backend: each mask's agreement with the shoe prior goes into its quality
    # a person whose masks' quality (mask_quality.py, in [0, 1]) is below: dropped with the parts. 0.525: chosen on the CCP
    # val split, the highest threshold (steps of 0.025) that keeps >= 88 % of labelled persons (the 85 % target plus one
    # standard error of a share on ~115 photos; benchmarks/curation/quality_ccp_val.md)
    min_quality: float = 0.525
    # what min_quality judges: person (the mean quality of its feet; below -> the person goes) | foot (a foot below goes
    # while its pair stays; the person only when no foot reaches it). person on the CCP val split at the same recall:
    # kept right 0.90 vs 0.88 (a low foot pulls a wrong pair down with it); foot keeps the sure foot of a photo whose
    # other "foot" is a ball
    quality_floor: Literal["person", "foot"] = "person"
    # heel/toe with a pose score below this (or off the mask) move to the mask's ends (0: off); 0.8 chosen on val
    # (heel/toe on the shoe 0.75 -> 0.80; moving every point, 1.01, gave 0.76)
    refine_below: float = 0.8
    batch_size: int = 4  # images whose SAM embeddings are computed in one encoder call
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"  # the image encoder's precision (the light prompt decoder stays float32)
    loader_threads: int = 2


@dataclass
class BuildConfig:
    """The shoe-leg set written by store.write_set."""

    records_per_shard: int = 256
    val_fraction: float = 0.05
    test_fraction: float = 0.05


@dataclass
class ReviewConfig:
    """`shoemodel curate review`: a Label Studio review round of the shoe-leg set, and the corrections table that
    `curate build` applies on every run (docs/curation.md, "Review rounds")."""

    #: The corrections table (JSON lines, one per reviewed person; git-tracked, the `curate_build` stage's dep).
    corrections: ParamPath = "annotation/review/corrections.jsonl"
    project_title: str = "shoemodel shoe-leg review"  # the Label Studio project of the review rounds
    #: Folder the review photos are written below (<document_root>/images/); Label Studio must serve it.
    document_root: ParamPath = "data/annotation/review"
    #: Prefix that turns a path relative to document_root into a URL Label Studio loads (local files by default:
    #: the server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT is data/annotation, as for the wearable-area rounds).
    image_url_prefix: str = "/data/local-files/?d=review/"
    n: int = 200  # kept records per round, lowest review priority (mask QC, later the quality score) first
    #: Also send persons the segment stage dropped with a reason starting with this ("" none; e.g. "mask qc").
    dropped_reason: str = ""
    n_dropped: int = 0  # how many such persons (0: as many as `n`)
    timeout_s: float = 60.0  # per Label Studio request


@dataclass
class CurationConfig:
    """All curation settings; `executor` says where the stages run, `gpu_resources` what GPU stages ask Dask for."""

    work_dir: ParamPath = "data/curation"  # intermediate stage tables (`curate run --out X` alone: X.work)
    out: ParamPath = "data/curation/shoe_leg"  # the shoe-leg set `build` writes
    ingest: IngestConfig = field(default_factory=IngestConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    pose: PoseConfig = field(default_factory=PoseConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    build: BuildConfig = field(default_factory=BuildConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    gpu_resources: dict[str, float] = field(default_factory=lambda: {"GPU": 1})
    fused: bool = False  # detect -> pose -> segment back to back on each decoded batch (one task, three parts)
    progress: bool = True
