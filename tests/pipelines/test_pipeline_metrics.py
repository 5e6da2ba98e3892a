"""Metric code on inputs with known answers."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("torchmetrics")


def _images(seed: int, n: int, size: int = 32, shift: float = 0.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.clip(rng.normal(110 + shift, 40, (size, size, 3)), 0, 255).astype(np.uint8) for _ in range(n)]


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_shift():
    from shoemodel.pipelines.image_metrics import TinyFeatureExtractor, fid_kid

    ext = TinyFeatureExtractor(num_features=16)
    a = _images(0, 24)
    same = fid_kid(a, a, ext, kid_subset_size=24)
    assert abs(same["fid"]) < 1e-3
    # KID is an unbiased estimate: about 0 (either sign) for equal sets, clearly positive for shifted ones.
    other = fid_kid(a, _images(1, 24, shift=80), ext, kid_subset_size=24)
    assert other["fid"] > 1e-3 and other["kid_x1k"] > same["kid_x1k"] and other["kid_x1k"] > 0


def test_missing_weights_give_a_clear_error(tmp_path):
    from shoemodel.models.weights import WeightsNotFound
    from shoemodel.pipelines.image_metrics import clip_from_path, inception_extractor

    with pytest.raises(WeightsNotFound, match="Inception"):
        inception_extractor(tmp_path / "pt_inception.pth")
    with pytest.raises(WeightsNotFound, match="CLIP"):
        clip_from_path(tmp_path / "clip")


def test_clip_score_with_tiny_clip_is_deterministic_and_in_range(tmp_path):
    from shoemodel.pipelines.image_metrics import clip_score, tiny_clip

    mp = tiny_clip(tmp_path / "clip")
    imgs = _images(2, 3)
    prompts = ["a photo of a person wearing shoes"] * 3
    s1, s2 = clip_score(imgs, prompts, mp), clip_score(imgs, prompts, mp)
    assert s1 == pytest.approx(s2) and 0.0 <= s1 <= 100.0
    with pytest.raises(ValueError):
        clip_score(imgs, prompts[:2], mp)


def test_masked_psnr_ssim_known_values():
    from shoemodel.pipelines.identity import masked_psnr, masked_ssim

    a = _images(3, 1)[0]
    mask = np.zeros(a.shape[:2], bool)
    mask[8:24, 8:24] = True
    assert masked_psnr(a, a, mask) == math.inf
    assert masked_ssim(a, a, mask) == pytest.approx(1.0)
    a[mask] = np.minimum(a[mask], 245)  # room for +10 everywhere inside the mask
    b = a.copy()
    b[mask] += 10  # MSE exactly 100 inside the mask
    assert masked_psnr(a, b, mask) == pytest.approx(10 * math.log10(255**2 / 100))
    c = a.copy()
    c[~mask] = 0  # changes outside the mask do not count
    assert masked_psnr(a, c, mask) == math.inf
    assert masked_ssim(a, 255 - a, mask) < 0.5
    assert math.isnan(masked_psnr(a, a, np.zeros_like(mask)))


def test_seam_ratio_is_one_without_paste_and_large_for_a_contrasting_patch():
    from shoemodel.pipelines.identity import seam_score
    from shoemodel.pipelines.paste import paste_back

    raw = np.full((32, 32, 3), 128, np.uint8)
    raw[:, :, 0] = np.arange(32, dtype=np.uint8)[None, :] * 4  # a smooth ramp
    mask = np.zeros((32, 32), bool)
    mask[10:20, 10:20] = True
    assert seam_score(raw, raw, mask)["seam_ratio"] == pytest.approx(1.0)
    patch = np.zeros_like(raw)
    pasted = paste_back(raw, patch, mask)
    assert np.array_equal(pasted[mask], patch[mask]) and np.array_equal(pasted[~mask], raw[~mask])
    assert seam_score(pasted, raw, mask)["seam_ratio"] > 5


def _published_inception_layout():
    """torch-fidelity's own Inception blocks under the attribute names of pt_inception-2015-12-05-6726825d.pth
    (random weights, the published file's exact keys and shapes): what a user's download holds."""
    import torch
    from torch import nn

    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    fi = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    torch.manual_seed(0)
    m = nn.Module()
    c = fi.BasicConv2d
    m.Conv2d_1a_3x3, m.Conv2d_2a_3x3 = c(3, 32, kernel_size=3, stride=2), c(32, 32, kernel_size=3)
    m.Conv2d_2b_3x3, m.Conv2d_3b_1x1 = c(32, 64, kernel_size=3, padding=1), c(64, 80, kernel_size=1)
    m.Conv2d_4a_3x3 = c(80, 192, kernel_size=3)
    m.Mixed_5b, m.Mixed_5c, m.Mixed_5d = fi.InceptionA(192, 32), fi.InceptionA(256, 64), fi.InceptionA(288, 64)
    m.Mixed_6a = fi.InceptionB(288)
    m.Mixed_6b, m.Mixed_6c = fi.InceptionC(768, channels_7x7=128), fi.InceptionC(768, channels_7x7=160)
    m.Mixed_6d, m.Mixed_6e = fi.InceptionC(768, channels_7x7=160), fi.InceptionC(768, channels_7x7=192)
    m.Mixed_7a, m.Mixed_7b, m.Mixed_7c = fi.InceptionD(768), fi.InceptionE_1(1280), fi.InceptionE_2(2048)
    m.fc = nn.Linear(2048, 1008)
    return m.state_dict()


@pytest.mark.slow  # ~21 s: builds and saves a full-size Inception
def test_inception_loads_the_published_layout_by_path_and_refuses_another(tmp_path):
    import torch

    from shoemodel.pipelines.image_metrics import fid_kid, inception_extractor

    state = _published_inception_layout()
    torch.save(state, tmp_path / "pt_inception-2015-12-05-6726825d.pth")
    ext = inception_extractor(tmp_path / "pt_inception-2015-12-05-6726825d.pth")
    feats = ext(torch.rand(2, 3, 64, 48))
    assert tuple(feats.shape) == (2, 2048) and torch.isfinite(feats).all()
    a, b = _images(0, 4, size=48), _images(1, 4, size=48, shift=80)
    assert fid_kid(a, a, ext, kid_subset_size=4)["fid"] == pytest.approx(0, abs=1e-2)
    assert fid_kid(a, b, ext, kid_subset_size=4)["fid"] > 0

    state.pop("fc.weight")  # e.g. a torchvision ImageNet Inception or a truncated file
    torch.save(state, tmp_path / "other.pth")
    with pytest.raises(ValueError, match=r"other\.pth: not the FID Inception v3 layout.*fc\.weight"):
        inception_extractor(tmp_path / "other.pth")
