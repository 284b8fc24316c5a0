import pytest

from jobs.processors import (
    AUTO_TYPE_BY_KIND,
    DEFAULT_TIMEOUTS,
    REGISTRY,
    TYPE_CLASSES,
    default_timeout,
    get_processor,
)
from jobs.processors import ParamsInvalid


def test_the_registry_holds_the_seven_spec_types_with_their_classes():
    assert TYPE_CLASSES == {
        "media.probe": "short",
        "image.transform": "short",
        "video.thumbnail": "short",
        "document.extract_text": "short",
        "audio.transcribe": "medium",
        "audio.convert": "medium",
        "video.convert": "long",
    }
    for name, processor in REGISTRY.items():
        assert processor.type == name
        assert processor.input_kinds <= {"video", "audio", "image", "document"}
        assert callable(processor.run)


def test_default_timeouts_follow_the_class_and_auto_gets_an_hour():
    assert DEFAULT_TIMEOUTS == {"short": 300, "medium": 1800, "long": 3600}
    assert default_timeout("image.transform") == 300
    assert default_timeout("audio.transcribe") == 1800
    assert default_timeout("video.convert") == 3600
    assert default_timeout("auto") == 3600


def test_auto_maps_every_input_kind_to_a_type_that_accepts_it():
    for kind, type_name in AUTO_TYPE_BY_KIND.items():
        assert kind in get_processor(type_name).input_kinds
        # auto runs with no params, so every auto target must accept {}
        get_processor(type_name).validate_params({})


def test_get_processor_refuses_unknown_types():
    with pytest.raises(KeyError):
        get_processor("video.explode")


def test_importing_the_registry_does_not_load_the_media_libraries():
    import subprocess
    import sys

    code = (
        "import sys, jobs.processors, jobs.sniff;"
        "print(sorted(m for m in ('av', 'PIL', 'pypdf', 'docx', 'pocketsphinx') if m in sys.modules))"
    )
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def details(type_name, params):
    with pytest.raises(ParamsInvalid) as info:
        get_processor(type_name).validate_params(params)
    return info.value.details


def test_it_rejects_a_string_where_an_integer_is_expected():
    assert details("image.transform", {"width": "100"}) == {"width": ["Expected integer, got string"]}


def test_it_rejects_a_boolean_where_an_integer_is_expected():
    assert details("image.transform", {"quality": True}) == {"quality": ["Expected integer, got boolean"]}


def test_it_rejects_a_fractional_number_for_an_integer_but_accepts_a_whole_one():
    assert details("image.transform", {"width": 10.5}) == {"width": ["Expected integer, got number"]}
    assert get_processor("image.transform").validate_params({"width": 10.0})["width"] == 10


def test_it_rejects_out_of_range_numbers_with_the_range():
    assert details("image.transform", {"width": 0, "quality": 101}) == {
        "width": ["Must be between 1 and 10000"],
        "quality": ["Must be between 1 and 100"],
    }
    assert details("video.thumbnail", {"at_seconds": -1}) == {"at_seconds": ["Must be greater than or equal to 0"]}


def test_it_rejects_a_string_for_a_number():
    assert details("video.thumbnail", {"at_seconds": "2"}) == {"at_seconds": ["Expected number, got string"]}


def test_it_lists_the_choices_for_a_bad_choice():
    assert details("image.transform", {"format": "bmp"}) == {"format": ["Must be one of: jpeg, png, webp"]}
    assert details("image.transform", {"fit": 3}) == {"fit": ["Must be one of: contain, cover, fill"]}


def test_it_rejects_unknown_parameters():
    assert details("media.probe", {"verbose": True}) == {"verbose": ["Unknown parameter"]}


def test_it_requires_the_audio_format_and_refuses_a_bitrate_for_lossless_formats():
    assert details("audio.convert", {}) == {"format": ["This field is required"]}
    assert details("audio.convert", {"format": "flac", "bitrate": 128000}) == {
        "bitrate": ["Not supported for flac (a lossless format)"]
    }


def test_it_refuses_params_that_are_not_an_object():
    assert details("image.transform", ["width"]) == {"params": ["Expected object, got array"]}


def test_it_fills_in_defaults_and_treats_null_as_absent():
    assert get_processor("image.transform").validate_params({"width": 50, "height": None}) == {
        "width": 50,
        "height": None,
        "fit": "contain",
        "format": None,
        "quality": 85,
    }
    assert get_processor("video.thumbnail").validate_params({}) == {"at_seconds": 1.0, "format": "jpeg", "width": None}
    assert get_processor("video.convert").validate_params({"format": "WEBM"})["format"] == "webm"
