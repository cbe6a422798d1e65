"""Compression as a degradation, the codec model and its use in reconstruct."""
import numpy as np
import pytest
from skimage import data

import mfsr
from mfsr.degradation.codec import (CodecModel, chroma_block_score, detect_codec, jpeg_quality,
                                    jpeg_sigma)
from mfsr.degradation.compression import (compress_jpeg, compress_video, decode_video,
                                          encode_video)
from mfsr.metrics import y_psnr_ssim

pytest.importorskip("av")


@pytest.fixture(scope="module")
def burst():
    """7 BD x4 colour frames of 96x96 from astronaut, their ground truth, 8-bit."""
    sim = mfsr.simulate(data.astronaut()[:384, :384], 4, 7, channel_axis=-1, seed=1,
                        max_shift=1.5, bits=8)
    return (sim.frames * 255).round().astype(np.uint8), sim.hr


def test_video_round_trip_keeps_shape_and_reports_picture_types(burst):
    frames, _ = burst
    for codec in ("x264", "x265"):
        data_ = encode_video(frames, codec, crf=28)
        decoded, types = decode_video(data_)
        assert decoded.shape == frames.shape and decoded.dtype == np.uint8
        assert types[0] == "I" and set(types) <= {"I", "P", "B"}
        # lossy, but close
        err = np.abs(decoded.astype(float) - frames).mean()
        assert 0 < err < 10


def test_x265_pads_tiny_frames_and_crops_them_back():
    frames = np.random.default_rng(0).integers(0, 255, (4, 36, 44, 3), dtype=np.uint8)
    assert compress_video(frames, "x265", 23).shape == frames.shape


def test_compression_rejects_bad_arguments(burst):
    frames, _ = burst
    with pytest.raises(ValueError, match="codec"):
        encode_video(frames, "mpeg2")
    with pytest.raises(ValueError, match="crf"):
        encode_video(frames, crf=60)
    with pytest.raises(ValueError, match="even"):
        encode_video(frames[:, :95])
    with pytest.raises(ValueError, match="quality"):
        compress_jpeg(frames, 0)
    with pytest.raises(TypeError, match="frames"):
        compress_jpeg(frames.astype(np.int32))


def test_detects_decoded_video_jpeg_and_clean_frames(burst):
    frames, _ = burst
    clean = detect_codec(frames)
    assert clean.kind == "none" and not clean.degraded
    video = detect_codec(compress_video(frames, "x264", 28))
    assert video.kind == "video" and video.sigma > 0
    assert video.evidence["chroma_block_score"] < 0.3 < clean.evidence["chroma_block_score"]
    jpeg = detect_codec(compress_jpeg(frames, 50))
    assert jpeg.kind == "jpeg" and jpeg.evidence["jpeg_quality"] == 50
    assert jpeg_quality(compress_jpeg(frames, 75))[1] == 75
    assert jpeg_quality(frames)[0] > 0.5 > jpeg.evidence["jpeg_ghost"]
    # grey frames: no chroma to look at, JPEG still found
    grey = compress_jpeg(frames, 60)[..., 0]
    assert detect_codec(grey).kind == "jpeg"
    assert jpeg_sigma(50) > jpeg_sigma(90) > 0


def test_codec_names_and_picture_types(burst):
    frames, _ = burst
    assert detect_codec(frames, "h264").kind == "video"
    assert detect_codec(frames, "none").kind == "none"
    model = detect_codec(frames, "hevc", picture_types=list("IPBBPBP"))
    assert model.frame_weights[0] == 1.0 and model.frame_weights[2] < model.frame_weights[1] < 1
    with pytest.raises(ValueError, match="codec"):
        detect_codec(frames, "mp3")
    with pytest.raises(TypeError, match="codec"):
        detect_codec(frames, 3)
    with pytest.raises(ValueError, match="picture_types"):
        detect_codec(frames, "video", picture_types=["I", "P"])
    with pytest.raises(ValueError, match="at least 4x4"):
        chroma_block_score(frames[:, :3, :3])


@pytest.mark.parametrize("compress", [lambda f: compress_video(f, "x264", 28),
                                      lambda f: compress_jpeg(f, 50)], ids=["x264", "jpeg"])
def test_codec_model_beats_the_white_noise_model_and_bicubic(burst, compress):
    frames, hr = burst
    lr = compress(frames)
    auto = mfsr.reconstruct(lr, 4, degradation="BD")
    white = mfsr.reconstruct(lr, 4, degradation="BD", codec="none")
    bicubic = mfsr.upsample(lr[3].astype(np.float32) / 255, 4, 0.0)
    p_auto, p_white, p_bicubic = (y_psnr_ssim(hr, x, 4)[0] for x in (auto, white, bicubic))
    assert p_auto > p_white + 0.1
    assert p_auto > p_bicubic + 0.2


def test_clean_frames_are_reconstructed_as_before(burst):
    frames, _ = burst
    a = mfsr.reconstruct(frames[:, :48, :48], 4, degradation="BD")
    b = mfsr.reconstruct(frames[:, :48, :48], 4, degradation="BD", codec="none")
    np.testing.assert_array_equal(a, b)


def test_a_codec_model_for_other_frames_is_refused(burst):
    frames, _ = burst
    model = CodecModel("video", 0.015, np.ones(3), {})
    with pytest.raises(ValueError, match="codec model is for 3 frames"):
        mfsr.reconstruct(frames, 4, codec=model)


def test_photometric_confidence_turns_off_frames_that_show_something_else(burst):
    from mfsr.core.color import rgb_to_ycbcr
    from mfsr.registration.confidence import photometric_confidence

    frames, _ = burst
    luma = rgb_to_ycbcr(frames.astype(np.float32) / 255)[..., 0]
    other = mfsr.simulate(data.coffee()[:384, :384], 4, 1, channel_axis=-1, seed=2)
    luma[0] = rgb_to_ycbcr(other.frames[0])[..., 0]
    motion = mfsr.register(luma, reference=3)
    conf = photometric_confidence(luma, motion, 0.01)
    assert conf.shape == luma.shape and conf.dtype == np.float32
    assert np.all(conf[3] == 1.0)
    assert conf[0].mean() < 0.3 < 0.8 < conf[2].mean()


def test_a_window_of_unrelated_frames_falls_back_to_its_reference(burst):
    """Registration that failed (other scenes around the reference) must not pull a
    JPEG-compressed reference below bicubic on the same grid."""
    frames, hr = burst
    others = mfsr.simulate(data.coffee()[:384, :384], 4, 7, channel_axis=-1, seed=2, bits=8)
    mixed = (others.frames * 255).round().astype(np.uint8)
    mixed[3] = frames[3]
    lr = compress_jpeg(mixed, 50)
    out = mfsr.reconstruct(lr, 4, degradation="BD", reference=3)
    bicubic = mfsr.upsample(lr[3].astype(np.float32) / 255, 4, 0.0)
    assert y_psnr_ssim(hr, out, 4)[0] > y_psnr_ssim(hr, bicubic, 4)[0]


def test_upscale_detects_an_h264_file_by_itself(burst, tmp_path):
    frames, _ = burst
    video = tmp_path / "clip.mp4"
    video.write_bytes(encode_video(frames[:5, :48, :64], "x264", crf=30))
    outputs = {}
    for codec in ("auto", "none"):
        out = tmp_path / codec
        mfsr.upscale_video(str(video), str(out), 2, 3, degradation="BD", codec=codec)
        outputs[codec] = np.stack([mfsr.io.read_image(str(p)) for p in sorted(out.iterdir())])
    assert outputs["auto"].shape == (5, 96, 128, 3)
    # the codec model (a stronger prior) changed the frames
    assert np.abs(outputs["auto"].astype(int) - outputs["none"]).mean() > 0.2


def test_photometric_confidence_rejects_a_motion_for_other_frames(burst):
    from mfsr.registration.confidence import photometric_confidence

    frames = np.zeros((3, 16, 16), np.float32)
    with pytest.raises(ValueError, match="motion must be a Motion for the 3 frames"):
        photometric_confidence(frames, mfsr.Motion.zeros(2, (16, 16)), 0.01)
    with pytest.raises(ValueError, match="frames"):
        photometric_confidence(frames[0], mfsr.Motion.zeros(3, (16, 16)), 0.01)


def test_chroma_420_planes_are_the_decoders_samples(burst):
    from mfsr.core.color import rgb_to_ycbcr
    from mfsr.degradation.codec import chroma_420_planes

    frames, _ = burst
    chroma = rgb_to_ycbcr(compress_video(frames, "x264", 23).astype(np.float32) / 255)[..., 1]
    planes = chroma_420_planes(chroma)
    assert planes.shape == (7, 48, 48)
    repeated = np.repeat(np.repeat(planes, 2, axis=1), 2, axis=2)
    # RGB rounding, and clipping where a colour leaves the RGB cube
    assert np.percentile(np.abs(repeated - chroma), 99) < 2 / 255
    with pytest.raises(ValueError, match="even"):
        chroma_420_planes(chroma[:, :95])


def test_chroma_420_operator_is_adjoint_and_samples_block_centres():
    from mfsr.degradation import GaussianPSF, dot_test
    from mfsr.degradation.codec import chroma_420_operator

    rng = np.random.default_rng(0)
    motion = mfsr.Motion.from_translations([(0.3, -0.2), (0.0, 0.0), (-0.6, 0.4)], (12, 16), 1)
    op = chroma_420_operator(motion, 2, GaussianPSF(1.0), 0.5)
    assert op.lr_shape == (6, 8) and op.hr_shape == (24, 32) and op.scale == 4
    assert op.phase == 1.5  # luma phase 0.5 + s/2: the centre of a 2x2 luma block
    dot_test(op.forward, op.adjoint, op.hr_shape, (3,) + op.lr_shape, rng=rng, rtol=1e-4,
             atol=1e-4)


def test_decoded_video_chroma_is_reconstructed_on_its_own_grid(burst):
    from mfsr.core.color import rgb_to_ycbcr

    frames, hr = burst
    lr = compress_video(frames, "x264", 23)
    out = mfsr.reconstruct(lr, 4, degradation="BD")
    bicubic = np.clip(mfsr.upsample(lr[3].astype(np.float32) / 255, 4, 0.0), 0, 1)
    truth = rgb_to_ycbcr(hr.astype(np.float32))[4:-4, 4:-4, 1:]

    def chroma_psnr(x):
        return 10 * np.log10(1 / np.mean((rgb_to_ycbcr(x)[4:-4, 4:-4, 1:] - truth) ** 2))
    assert chroma_psnr(out) > chroma_psnr(bicubic) + 0.1


def _block_rms(a, block):
    k, h, w = a.shape
    a = a[:, :h // block * block, :w // block * block]
    return np.sqrt(np.mean(a.reshape(k, h // block, block, w // block, block) ** 2,
                           axis=(2, 4)))


def test_block_error_level_follows_the_real_codec_error():
    from mfsr.core.color import rgb_to_ycbcr
    from mfsr.degradation.codec import TEXTURE_ERROR_FIT, block_error_level

    # camera (sky above, grass and coat below) as 3 slightly panned frames through x264
    camera = data.camera()
    clean = np.stack([camera[100 + 2 * i:228 + 2 * i, 100 + 3 * i:292 + 3 * i]
                      for i in range(3)])
    decoded = compress_video(clean, "x264", 28)
    level = block_error_level(decoded)
    assert level.shape == clean.shape and level.dtype == np.float32
    block = TEXTURE_ERROR_FIT["block"]
    # constant on each block, positive, and at a codec's level (0.5 to 25 codes)
    assert np.all(level == np.repeat(np.repeat(level[:, ::block, ::block], block, 1),
                                     block, 2)[:, :clean.shape[1], :clean.shape[2]])
    assert 0.5 / 255 < level.min() and level.max() < 25 / 255
    # where the level is higher the codec really erred more (rank correlation by block)
    error = rgb_to_ycbcr(decoded / 255.0)[..., 0] - clean / 255.0
    truth = np.log(_block_rms(error, block) + 1e-4).ravel()
    predicted = np.log(level[:, ::block, ::block]).ravel()[:truth.size]
    rank = lambda v: np.argsort(np.argsort(v))
    assert np.corrcoef(rank(truth), rank(predicted))[0, 1] > 0.6  # 0.89 here
    # a flat frame gets the fit's floor exp(a); luma and RGB input agree
    flat = block_error_level(np.full((1, 16, 24), 0.5))
    np.testing.assert_allclose(flat, np.exp(TEXTURE_ERROR_FIT["a"]) / 255, rtol=1e-5)
    grey = rgb_to_ycbcr(decoded / 255.0)[..., 0]
    np.testing.assert_allclose(block_error_level(grey), level, rtol=1e-4)


def test_block_error_level_rejects_bad_arguments():
    from mfsr.degradation.codec import block_error_level

    frames = np.zeros((2, 16, 16))
    with pytest.raises(ValueError, match="frames"):
        block_error_level(np.zeros((16, 16)))
    with pytest.raises(ValueError, match="frames"):
        block_error_level(np.zeros((2, 16, 16, 2)))
    with pytest.raises(TypeError, match="coefficients"):
        block_error_level(frames, coefficients=[0.4, 0.2, 8])
    with pytest.raises(ValueError, match="coefficients"):
        block_error_level(frames, coefficients={"a": 0.4, "b": 0.2})
    with pytest.raises(ValueError, match="block"):
        block_error_level(frames, coefficients={"a": 0.4, "b": 0.2, "block": 1})
