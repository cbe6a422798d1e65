"""mfsr bench: layouts, protocols, metrics, averaging, cache, CLI (tiny fake trees)."""
import json
import os

import numpy as np
import pytest
from scipy import ndimage
from skimage import data

from mfsr.bench import Protocol, degrade, detect, markdown, run_bench, score, select_frames
from mfsr.bench import deep
from mfsr.bench.protocols import duf_downsample, duf_kernel, luma, ssim_wang, to_uint8
from mfsr.bench.published import load_published, matching
from mfsr.cli import main
from mfsr.degradation import dot_test, imresize
from mfsr.io import write_image


def _frames(n, size=(32, 48), seed=0):
    """n small RGB uint8 frames: a crop of astronaut moving one pixel per frame."""
    img = data.astronaut()
    h, w = size
    return [img[100 + k:100 + k + h, 150 + 2 * k:150 + 2 * k + w] for k in range(n)]


def _write(folder, frames, pattern="{:04d}.png"):
    os.makedirs(folder, exist_ok=True)
    for i, f in enumerate(frames):
        write_image(os.path.join(folder, pattern.format(i)), f)


# --- layouts ---------------------------------------------------------------------------

def test_detect_clips_with_vid4_naming(tmp_path):
    _write(tmp_path / "calendar", _frames(3), "Frame {:03d}.png")
    _write(tmp_path / "city", _frames(12), "im{}.png")
    ds = detect(tmp_path, "BD", 4)
    assert ds.layout == "clips" and ds.lr_source == "generated"
    assert [c.name for c in ds.clips] == ["calendar", "city"]
    names = [os.path.basename(p) for p in ds.clips[1].hr]
    assert names[:3] == ["im0.png", "im1.png", "im2.png"] and names[-1] == "im11.png"
    assert all(c.lr is None for c in ds.clips)


def test_detect_gt_and_lr_trees(tmp_path):
    hr = _frames(2)
    for clip in ("calendar", "walk"):
        _write(tmp_path / "GT" / clip, hr)
        _write(tmp_path / "BDx4" / clip, [degrade(f, Protocol("BD")) for f in hr])
    ds = detect(tmp_path, "BD", 4)
    assert ds.layout == "pairs" and ds.lr_source == "BDx4"
    assert all(c.lr and len(c.lr) == 2 for c in ds.clips)
    # no BIx4 tree: BI makes its LR and says why
    ds = detect(tmp_path, "BI", 4)
    assert ds.lr_source == "generated" and "BDx4" in ds.notes[0]
    assert detect(tmp_path, "BD", 4, lr="generate").lr_source == "generated"


def test_detect_clip_first_pairs_like_the_shared_data(tmp_path):
    hr = _frames(2)
    _write(tmp_path / "seq" / "GT", hr)
    _write(tmp_path / "seq" / "BIx4", [degrade(f, Protocol("BI")) for f in hr])
    ds = detect(tmp_path, "BI", 4)
    assert ds.layout == "clip-pairs" and ds.lr_source == "<clip>/BIx4"
    # SPMCS names its LR folder input4: used only when named
    _write(tmp_path / "spm" / "truth", hr)
    _write(tmp_path / "spm" / "input4", [degrade(f, Protocol("BD")) for f in hr])
    ds = detect(tmp_path, "BD", 4, clips=["spm"], lr_folder="input4")
    assert ds.clips[0].lr is not None and ds.lr_source == "<clip>/input4"


def test_detect_reds4(tmp_path):
    for clip in ("000", "001", "011", "015", "020"):
        _write(tmp_path / "train_sharp" / clip, _frames(2), "{:08d}.png")
    for clip in ("000", "001", "011", "015", "020"):
        _write(tmp_path / "train_sharp_bicubic" / "X4" / clip,
               [degrade(f, Protocol("BI")) for f in _frames(2)], "{:08d}.png")
    ds = detect(tmp_path, "BI", 4)
    assert ds.layout == "reds" and [c.name for c in ds.clips] == ["000", "011", "015", "020"]
    assert ds.lr_source == os.path.join("train_sharp_bicubic", "X4")
    assert detect(tmp_path, "BD", 4).lr_source == "generated"   # REDS ships BI only
    assert len(detect(tmp_path, "BI", 4, clips="all").clips) == 5


def test_detect_vimeo_septuplets_scores_the_centre(tmp_path):
    for key in ("00001/0001", "00001/0002", "00002/0001"):
        for i, f in enumerate(_frames(7)):
            _write(tmp_path / "sequences" / key, [f], f"im{i + 1}.png")
    (tmp_path / "sep_testlist.txt").write_text("00001/0002\n00002/0001\n")
    ds = detect(tmp_path, "BD", 4)
    assert ds.layout == "vimeo" and [c.name for c in ds.clips] == ["00001/0002", "00002/0001"]
    assert all(c.scored == [3] for c in ds.clips)
    assert os.path.basename(ds.clips[0].hr[3]) == "im4.png"


def test_detect_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no such folder"):
        detect(tmp_path / "missing")
    with pytest.raises(ValueError, match="protocol"):
        detect(tmp_path, "XX")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no frames"):
        detect(tmp_path / "empty")
    _write(tmp_path / "bad" / "GT" / "a", _frames(3))
    _write(tmp_path / "bad" / "BDx4" / "a", _frames(2, (8, 12)))
    with pytest.raises(ValueError, match="3 HR frames but 2 LR"):
        detect(tmp_path / "bad", "BD")


# --- protocols and metrics --------------------------------------------------------------

def test_bd_is_duf_gaussian_at_phase_0():
    k = duf_kernel(4)
    assert k.shape == (13, 13) and k.sum() == pytest.approx(1.0)
    x = data.camera()[:64, :80].astype(np.float64) / 255
    lr = duf_downsample(x, 4)
    assert lr.shape == (16, 20)
    # away from the border: scipy's Gaussian (sigma 1.6, radius 6) sampled at 4 i
    ref = ndimage.gaussian_filter(x, 1.6, truncate=6 / 1.6)[::4, ::4]
    np.testing.assert_allclose(lr[3:-3, 3:-3], ref[3:-3, 3:-3], atol=1e-12)
    # the border mirrors without repeating the edge sample (torch 'reflect')
    pad = np.pad(x, 14, mode="reflect")
    full = ndimage.correlate(pad, k, mode="constant")[14:-14, 14:-14][::4, ::4]
    np.testing.assert_allclose(lr, full, atol=1e-12)


def test_degrade_bi_is_imresize_and_uint8():
    hr = _frames(1, (34, 50))[0]                 # cropped to 32 x 48 first
    lr = degrade(hr, Protocol("BI"))
    assert lr.dtype == np.uint8 and lr.shape == (8, 12, 3)
    np.testing.assert_array_equal(lr, imresize(hr[:32, :48], 0.25))
    with pytest.raises(TypeError, match="uint8"):
        degrade(hr.astype(np.float32), Protocol("BI"))


def test_luma_is_matlab_rgb2ycbcr():
    px = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0]]], np.uint8)
    np.testing.assert_allclose(luma(px)[0], [235.0, 16.0, 16 + 65.481])
    assert luma(px, y_round=True)[0, 2] == 81.0


def test_ssim_wang_matches_the_gaussian_formula():
    a = data.camera()[:40, :40].astype(np.float64)
    assert ssim_wang(a, a) == pytest.approx(1.0)
    b = a + np.random.default_rng(0).normal(0, 10, a.shape)
    s = ssim_wang(a, b)
    # one window by hand: the centre pixel of a 11x11 patch
    g = np.exp(-0.5 * ((np.arange(11) - 5) / 1.5) ** 2)
    w = np.outer(g, g) / np.outer(g, g).sum()
    pa, pb = a[:11, :11], b[:11, :11]
    ma, mb = (w * pa).sum(), (w * pb).sum()
    va, vb = (w * pa * pa).sum() - ma ** 2, (w * pb * pb).sum() - mb ** 2
    cov = (w * pa * pb).sum() - ma * mb
    c1, c2 = 6.5025, 58.5225
    first = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2))
    from mfsr.bench.protocols import _gaussian_window
    from scipy.ndimage import correlate
    mu = correlate(a, _gaussian_window(), mode="constant")
    assert mu[5, 5] == pytest.approx(ma)
    assert 0 < s < 1
    assert abs(first) <= 1
    with pytest.raises(ValueError, match="11x11"):
        ssim_wang(a[:8, :8], a[:8, :8])


def test_score_rounds_crops_and_uses_y():
    gt = _frames(1)[0]
    sr = gt.astype(np.float64) / 255 + 0.3 / 255     # rounds back to gt
    p, s = score(gt, sr, Protocol())
    assert p == float("inf") and s == pytest.approx(1.0)
    p_nr, _ = score(gt, sr, Protocol(round_output=False))
    assert np.isfinite(p_nr) and p_nr > 50
    noisy = np.clip(gt / 255 + np.random.default_rng(0).normal(0, 0.02, gt.shape), 0, 1)
    full, _ = score(gt, noisy, Protocol())
    cropped, _ = score(gt, noisy, Protocol(crop=4))
    rgb, _ = score(gt, noisy, Protocol(channel="rgb"))
    assert full != cropped and rgb != full
    # --ssim skimage --no-round is exactly the project's metrics (quality.py's)
    from mfsr.metrics import y_psnr_ssim
    got = score(gt, noisy, Protocol(crop=4, ssim="skimage", round_output=False))
    assert got == pytest.approx(y_psnr_ssim(gt, noisy, 4))
    with pytest.raises(ValueError, match="shape"):
        score(gt, noisy[:-1], Protocol())


def test_protocol_validates():
    with pytest.raises(ValueError, match="degradation"):
        Protocol("XY")
    with pytest.raises(ValueError, match="crop"):
        Protocol(crop=-1)
    with pytest.raises(ValueError, match="averaging"):
        Protocol(averaging="median")
    assert "8-px border" in Protocol(crop=8).describe()


def test_select_frames():
    assert select_frames(10) == list(range(10))
    assert select_frames(10, "every:3") == [0, 3, 6, 9]
    assert select_frames(10, "all", skip_ends=2) == list(range(2, 8))
    assert select_frames(7, "all", skip_ends=2, scored=[3]) == [3]
    with pytest.raises(ValueError, match="every:K"):
        select_frames(10, "some")


def test_to_uint8_rounds_half_up():
    np.testing.assert_array_equal(to_uint8(np.array([0.5 / 255, 1.2, -0.1, 254.5 / 255])),
                                  [1, 255, 0, 255])


# --- the run: averaging, cache and resume ------------------------------------------------

def _tiny_set(root, lengths=(3, 2)):
    for i, n in enumerate(lengths):
        _write(root / f"clip{i}", _frames(n, (32, 48)))
    return root


def test_run_bench_averaging_and_cache(tmp_path):
    root = _tiny_set(tmp_path / "set")
    cache = tmp_path / "cache"
    res = run_bench(root, Protocol("BI"), ["bicubic", "bicubic-grid"], cache=str(cache),
                    progress=False)
    m = res["methods"]["bicubic"]
    assert set(m["clips"]) == {"clip0", "clip1"}
    assert [f["frame"] for f in m["clips"]["clip0"]["frames"]] == [0, 1, 2]
    clip_means = [m["clips"][c]["psnr"] for c in ("clip0", "clip1")]
    assert m["mean"]["psnr"] == pytest.approx(np.mean(clip_means))
    frames = [f["psnr"] for c in m["clips"].values() for f in c["frames"]]
    res_f = run_bench(root, Protocol("BI", averaging="frame"), ["bicubic"],
                      cache=str(cache), progress=False)
    assert res_f["methods"]["bicubic"]["mean"]["psnr"] == pytest.approx(np.mean(frames))
    assert res_f["methods"]["bicubic"]["mean"]["psnr"] != pytest.approx(m["mean"]["psnr"])
    # the bicubic row is MATLAB imresize of the protocol's LR, scored as stated
    hr = _frames(3, (32, 48))[1]
    sr = imresize(degrade(hr, Protocol("BI")), 4.0)
    assert m["clips"]["clip0"]["frames"][1]["psnr"] == pytest.approx(
        score(hr, sr, Protocol("BI"))[0])
    assert "BI" in res["conventions"] and res["dataset"]["lr_source"] == "generated"
    assert res["methods"]["bicubic"]["mean"]["seconds_per_frame"] >= 0
    md = markdown(res)
    assert "| bicubic |" in md and "clip0" in md and "mean" in md


def test_run_bench_resumes_from_the_cache(tmp_path, monkeypatch):
    root = _tiny_set(tmp_path / "set", (3,))
    cache = str(tmp_path / "cache")
    from mfsr.bench import methods as bench_methods
    calls = []
    original = bench_methods.Bicubic.frame

    def counting(self, lr, t, context):
        calls.append(t)
        if len(calls) == 2:
            raise KeyboardInterrupt              # killed after the first output
        return original(self, lr, t, context)

    monkeypatch.setattr(bench_methods.Bicubic, "frame", counting)
    with pytest.raises(KeyboardInterrupt):
        run_bench(root, Protocol("BD"), ["bicubic"], cache=cache, progress=False)
    assert calls == [0, 1]
    calls.clear()
    monkeypatch.setattr(bench_methods.Bicubic, "frame",
                        lambda self, lr, t, c: (calls.append(t), original(self, lr, t, c))[1])
    res = run_bench(root, Protocol("BD"), ["bicubic"], cache=cache, progress=False)
    assert calls == [1, 2]                       # frame 0 came from the cache
    again = run_bench(root, Protocol("BD"), ["bicubic"], cache=cache, progress=False)
    assert calls == [1, 2]
    assert again["methods"]["bicubic"]["mean"] == res["methods"]["bicubic"]["mean"]


def test_run_bench_grid_bicubic_beats_plain_bicubic_on_bd(tmp_path):
    root = _tiny_set(tmp_path / "set", (2,))
    res = run_bench(root, Protocol("BD"), ["bicubic", "bicubic-grid"],
                    cache=str(tmp_path / "c"), progress=False)
    grid = res["methods"]["bicubic-grid"]["mean"]["psnr"]
    plain = res["methods"]["bicubic"]["mean"]["psnr"]
    assert grid > plain + 0.5                    # the 1.5-px grid offset of BD


def test_run_bench_mfsr_method_and_unknown_name(tmp_path):
    root = _tiny_set(tmp_path / "set", (3,))
    res = run_bench(root, Protocol("BD"), ["saa"], window=3, cache=str(tmp_path / "c"),
                    progress=False)
    assert np.isfinite(res["methods"]["saa"]["mean"]["psnr"])
    assert res["methods"]["saa"]["family"] == "mfsr"
    with pytest.raises(ValueError, match="unknown method 'nope'; valid: bicubic"):
        run_bench(root, Protocol("BD"), ["nope"], cache=str(tmp_path / "c"), progress=False)


def test_deep_method_needs_checked_weights(tmp_path):
    root = _tiny_set(tmp_path / "set", (1,))
    with pytest.raises(ValueError, match="--weights"):
        run_bench(root, Protocol("BI"), ["lapsrn"], cache=str(tmp_path / "c"),
                  progress=False)
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "LapSRN_x4.mat").write_bytes(b"not the model")
    with pytest.raises(ValueError, match="SHA-256"):
        run_bench(root, Protocol("BI"), ["lapsrn"], cache=str(tmp_path / "c"),
                  progress=False, options={"weights": str(tmp_path / "w")})


def test_published_rows_have_sources_and_match_protocols():
    rows = load_published()
    assert rows and all(r["source"] and 0 < r["ssim"] < 1 and r["psnr"] > 20 for r in rows)
    vid4_bd = matching("vid4", Protocol("BD"))
    assert {r["method"] for r in vid4_bd} >= {"BasicVSR", "BasicVSR++"}
    assert all(r["crop"] == 0 for r in vid4_bd)
    assert {r["method"] for r in matching("Vid4", Protocol("BD", crop=8))} == {"TDAN"}
    assert matching("REDS4", Protocol("BI", channel="y")) == []


def test_cli_bench_prints_table_and_writes_json(tmp_path, capsys):
    root = _tiny_set(tmp_path / "Vid4", (2, 2))
    out = tmp_path / "r.json"
    rc = main(["bench", str(root), "--protocol", "BD", "--methods", "bicubic,bicubic-grid",
               "--cache", str(tmp_path / "c"), "--out", str(out), "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "| bicubic-grid |" in text and "(published" in text   # Vid4 BD rows
    res = json.loads(out.read_text())
    assert res["protocol"]["degradation"] == "BD" and "conventions" in res
    assert main(["bench", str(root), "--methods", "nope", "--quiet",
                 "--cache", str(tmp_path / "c")]) == 1


# --- the deep engine (no weights needed) --------------------------------------------------

def test_conv_engine_matches_scipy():
    rng = np.random.default_rng(0)
    x = rng.random((3, 9, 11)).astype(np.float32)
    w = rng.random((2, 3, 3, 3)).astype(np.float32)
    out = deep.conv2d(x, w, np.array([0.5, -1.0]), pad=1, rows=4)
    ref = np.stack([sum(ndimage.correlate(x[c], w[o, c], mode="constant")
                        for c in range(3)) for o in range(2)])
    ref += np.array([0.5, -1.0])[:, None, None]
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_conv_transpose_is_the_adjoint_of_strided_conv():
    rng = np.random.default_rng(1)
    f = rng.random((4, 4, 2, 3)).astype(np.float64)     # (fh, fw, K out, D in)

    def conv_transpose(x):
        return deep.conv_transpose2d(x, f, upsample=2, crop=(0, 0, 0, 0))

    def strided_correlation(z):
        """Strided correlation of z with f, back to x's grid: T^T z."""
        tz = np.zeros((3, 5, 6))
        for i in range(4):
            for j in range(4):
                tz += np.einsum("kd,khw->dhw", f[i, j], z[:, i:i + 9:2, j:j + 11:2])
        return tz

    # <T x, z> = <x, T^T z>
    dot_test(conv_transpose, strided_correlation, (3, 5, 6),
             conv_transpose(np.zeros((3, 5, 6))).shape, rng=rng, rtol=1e-5)


def test_matlab_colour_round_trip():
    rgb = np.random.default_rng(2).random((4, 5, 3))
    ycc = deep.rgb2ycbcr(rgb)
    np.testing.assert_allclose(ycc[..., 0] * 255, luma(rgb), atol=1e-9)
    np.testing.assert_allclose(deep.ycbcr2rgb(ycc), rgb, atol=1e-12)


# --- measured against the authors' published figures (weights outside the repo) ---------

WEIGHTS = os.environ.get("MFSR_BENCH_WEIGHTS", "")
SET5 = os.environ.get("MFSR_MATLAB_REFERENCE", "")


@pytest.mark.skipif(not (os.path.isdir(WEIGHTS) and os.path.isdir(SET5)),
                    reason="MFSR_BENCH_WEIGHTS (benchmarks/bench_weights.py) and "
                           "MFSR_MATLAB_REFERENCE (SelfExSR data) not set")
@pytest.mark.parametrize("name, published", [("lapsrn", 31.54), ("vdsr", 31.45)])
def test_network_reaches_its_published_set5_x4(name, published):
    # LapSRN: 31.54 dB (Lai et al., CVPR 2017, Table 4); VDSR: 31.45 dB (the pytorch-vdsr
    # README's table). Y-PSNR, 4-px crop, outputs rounded to 8 bits.
    import glob
    from mfsr.io import read_image
    net = deep.load_weights(name, WEIGHTS)
    scores = []
    for f in sorted(glob.glob(os.path.join(SET5, "Set5", "image_SRF_4", "*_HR.png"))):
        hr, lr = read_image(f), read_image(f.replace("_HR", "_LR"))
        sr = np.clip(deep.super_resolve(name, net, lr, 4), 0, 1)
        scores.append(score(hr, sr, Protocol("BI", crop=4))[0])
    assert len(scores) == 5
    assert abs(np.mean(scores) - published) < 0.05
