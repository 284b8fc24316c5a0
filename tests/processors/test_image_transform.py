import time

import pytest
from PIL import Image

from jobs.processors import ProcessingError
from tests import media_factory as mf


def opened(run_result):
    img = Image.open(run_result.file)
    img.load()
    return img


def test_contain_fits_inside_the_box_keeping_the_aspect_ratio(run, tmp_path):
    result = run("image.transform", mf.make_png(tmp_path / "p.png", 200, 100), {"width": 50, "height": 50})
    assert (result.output["width"], result.output["height"]) == (50, 25)
    assert opened(result).size == (50, 25)


def test_cover_fills_the_box_and_crops_the_overflow(run, tmp_path):
    result = run("image.transform", mf.make_png(tmp_path / "p.png", 200, 100),
                 {"width": 50, "height": 50, "fit": "cover"})
    assert opened(result).size == (50, 50)


def test_fill_stretches_to_the_exact_box(run, tmp_path):
    result = run("image.transform", mf.make_png(tmp_path / "p.png", 200, 100),
                 {"width": 30, "height": 90, "fit": "fill"})
    assert opened(result).size == (30, 90)


def test_one_dimension_scales_the_other_proportionally_up_or_down(run, tmp_path):
    src = mf.make_png(tmp_path / "p.png", 200, 100)
    assert opened(run("image.transform", src, {"width": 100})).size == (100, 50)
    assert opened(run("image.transform", src, {"height": 300})).size == (600, 300)


def test_the_exif_orientation_is_applied_and_all_metadata_stripped(run, tmp_path):
    src = mf.make_exif_rotated_jpeg(tmp_path / "phone.jpg", 80, 40, orientation=6)
    original = Image.open(src)
    assert original.getexif()[0x010F] == "AcmeCam" and original.info["icc_profile"]
    result = run("image.transform", src)
    img = opened(result)
    assert result.output["format"] == "jpeg"
    assert img.size == (40, 80)  # displayed upright: portrait
    assert dict(img.getexif()) == {}
    assert "icc_profile" not in img.info and "exif" not in img.info
    # The white square drawn top-left of the stored image ends up top-right.
    assert img.getpixel((img.width - 3, 2))[0] > 200
    assert img.getpixel((2, 2))[1] < 200


def test_a_large_rotated_photo_is_decoded_at_reduced_scale_and_still_exact(run, tmp_path):
    src = mf.make_exif_rotated_jpeg(tmp_path / "big.jpg", 1600, 1200, orientation=6)
    result = run("image.transform", src, {"width": 90, "height": 100, "fit": "cover", "format": "png"})
    assert opened(result).size == (90, 100)
    result = run("image.transform", src, {"width": 150})
    assert opened(result).size == (150, 200)


def test_it_converts_formats_and_defaults_to_the_input_format(run, tmp_path):
    png = mf.make_png(tmp_path / "p.png", 40, 30)
    assert opened(run("image.transform", png)).format == "PNG"
    result = run("image.transform", png, {"format": "webp"})
    assert (opened(result).format, result.output["format"], result.result.content_type) == (
        "WEBP", "webp", "image/webp")
    result = run("image.transform", mf.make_webp(tmp_path / "w.webp"), {"format": "jpeg"})
    assert (opened(result).format, result.result.content_type) == ("JPEG", "image/jpeg")
    assert result.output["size_bytes"] == result.file.stat().st_size


def test_transparency_is_flattened_on_white_for_jpeg(run, tmp_path):
    src = tmp_path / "alpha.png"
    Image.new("RGBA", (20, 20), (0, 0, 0, 0)).save(src)
    img = opened(run("image.transform", src, {"format": "jpeg"}))
    assert img.mode == "RGB"
    assert img.getpixel((10, 10)) >= (250, 250, 250)


def test_quality_changes_the_jpeg_size(run, tmp_path):
    src = mf.make_png(tmp_path / "p.png", 300, 200)
    low = run("image.transform", src, {"format": "jpeg", "quality": 5}).output["size_bytes"]
    high = run("image.transform", src, {"format": "jpeg", "quality": 95}).output["size_bytes"]
    assert low < high


def test_an_animated_gif_keeps_its_frames_as_webp_and_gives_its_first_frame_otherwise(run, tmp_path):
    gif = mf.make_animated_gif(tmp_path / "a.gif", 64, 48, frames=5)
    animated = run("image.transform", gif, {"format": "webp", "width": 32})
    img = opened(animated)
    assert (animated.output["frames"], img.n_frames, img.size) == (5, 5, (32, 24))
    still = run("image.transform", gif)
    assert (still.output["format"], still.output["frames"]) == ("png", 1)
    assert opened(still).format == "PNG"


def test_it_refuses_a_50k_by_50k_png_before_decoding(run, tmp_path):
    bomb = mf.make_png_bomb(tmp_path / "bomb.png", 50_000, 50_000)
    started = time.monotonic()
    with pytest.raises(ProcessingError) as info:
        run("image.transform", bomb, {"width": 100})
    assert time.monotonic() - started < 1
    assert info.value.code == "INPUT_TOO_LARGE"


def test_it_refuses_an_image_just_over_100_megapixels(run, tmp_path):
    with pytest.raises(ProcessingError) as info:
        run("image.transform", mf.make_png_bomb(tmp_path / "big.png", 12_000, 9_000))
    assert info.value.code == "INPUT_TOO_LARGE"
    assert "100 megapixels" in info.value.message


def test_it_refuses_an_output_over_100_megapixels(run, tmp_path):
    with pytest.raises(ProcessingError) as info:
        run("image.transform", mf.make_png(tmp_path / "thin.png", 2, 100), {"width": 10000})
    assert info.value.code == "INVALID_PARAMS"


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_images_are_corrupt_input(run, tmp_path, damage):
    src = mf.make_jpeg(tmp_path / "p.jpg", 400, 300)
    bad = (mf.make_truncated(src, tmp_path / "bad.jpg", 0.4) if damage == "truncated"
           else mf.make_corrupt(src, tmp_path / "bad.jpg", keep_header=20))
    with pytest.raises(ProcessingError) as info:
        run("image.transform", bad)
    assert info.value.code == "CORRUPT_INPUT"


def test_a_video_labelled_as_an_image_is_unsupported(run, tmp_path):
    clip = mf.make_mp4(tmp_path / "clip.png", seconds=0.2)
    with pytest.raises(ProcessingError) as info:
        run("image.transform", clip, content_type="image/png")
    assert info.value.code == "UNSUPPORTED_INPUT"


def test_it_reports_progress_up_to_100(run, tmp_path):
    result = run("image.transform", mf.make_png(tmp_path / "p.png"), {"width": 10})
    assert result.progress[0] == 0 and result.progress[-1] == 100
    assert result.progress == sorted(result.progress)
