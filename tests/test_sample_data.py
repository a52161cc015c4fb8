"""The sample dataset shipped in data/, and the script that regenerates it from a seed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from numpy.typing import NDArray

from shared.errors import DatasetError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# Images are compared after a Gaussian blur of this sigma, which averages away sensor noise
# and JPEG blocks and keeps what the photo shows: text layout, warp and shadow.
COMPARE_BLUR_SIGMA_PX = 2.0
# Mean absolute difference, in grey levels, of two blurred images. Measured on these pages:
# redrawing only the noise gives about 1, shifting the text by a third of a pixel (as another
# FreeType might) about 0.5, and another seed's warp and shadow 9 or more.
SAME_PHOTO_MAX_MEAN_DIFF = 3.0


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_sample", DATA_DIR / "make_sample.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is being built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def make_sample() -> ModuleType:
    return _load_script()


@pytest.fixture(scope="module")
def generate_with_seed(make_sample: ModuleType, tmp_path_factory: pytest.TempPathFactory
                       ) -> dict[int, Path]:
    """Folders regenerated through the command line, keyed by seed; skips without fonts."""
    missing = make_sample.missing_fonts()
    if missing:
        needed = ", ".join(f"{face.path} ({face.apt_package})" for face in missing)
        pytest.skip(f"cannot regenerate the sample: Debian font(s) missing: {needed}; "
                    "install them with apt-get")
    folders = {}
    for seed in (make_sample.DEFAULT_SEED, make_sample.DEFAULT_SEED + 1):
        out = tmp_path_factory.mktemp(f"seed{seed}")
        result = CliRunner().invoke(make_sample.main, ["--seed", str(seed), "--out", str(out)])
        assert result.exit_code == 0, result.output
        folders[seed] = out
    return folders


def _names(folder: Path, suffix: str) -> set[str]:
    return {path.stem for path in folder.iterdir() if path.suffix == suffix}


def _read_image(path: Path) -> NDArray[np.int16]:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"{path} does not decode"
    return np.asarray(image, dtype=np.int16)


def _blurred(path: Path) -> NDArray[np.float32]:
    image = _read_image(path).astype(np.float32)
    return cv2.GaussianBlur(image, (0, 0), COMPARE_BLUR_SIGMA_PX).astype(np.float32, copy=False)


def _mean_abs_diff(first: Path, second: Path) -> float:
    """How far apart two same-sized photos are, ignoring their noise."""
    return float(np.mean(np.abs(_blurred(first) - _blurred(second))))


def test_every_shipped_image_has_a_text_of_the_same_name_and_back() -> None:
    # given the shipped folders / when their names are compared
    images = _names(DATA_DIR / "images", ".jpg")
    texts = _names(DATA_DIR / "texts", ".txt")

    # then they pair up exactly, about six of them
    assert images == texts
    assert 5 <= len(images) <= 8


def test_every_shipped_text_is_utf8_lines_without_blanks_and_ends_in_one_newline() -> None:
    for path in sorted((DATA_DIR / "texts").glob("*.txt")):
        text = path.read_bytes().decode("utf-8")

        assert text.endswith("\n") and not text.endswith("\n\n"), path
        lines = text.splitlines()
        assert lines, path
        assert all(line.strip() == line and line for line in lines), path


def test_every_shipped_text_is_its_passage_broken_into_printed_lines(
        make_sample: ModuleType) -> None:
    # given the passages the script sets
    for passage in make_sample.PASSAGES:
        # when the shipped text's lines are joined again
        text = (DATA_DIR / "texts" / f"{passage.name}.txt").read_text(encoding="utf-8")

        # then they are exactly the passage's words, in order
        assert " ".join(text.split()) == " ".join(passage.text.split())


def test_the_shipped_texts_range_from_one_line_to_a_paragraph() -> None:
    counts = [len(path.read_text(encoding="utf-8").splitlines())
              for path in (DATA_DIR / "texts").glob("*.txt")]

    assert min(counts) == 1
    assert max(counts) >= 6


def test_every_shipped_image_decodes_to_a_colour_photo_and_the_set_stays_small() -> None:
    paths = sorted((DATA_DIR / "images").glob("*.jpg"))

    for path in paths:
        image = _read_image(path)
        assert image.ndim == 3 and image.shape[2] == 3, path
        assert min(image.shape[:2]) >= 32, path
    assert sum(path.stat().st_size for path in paths) < 1_000_000


def test_regenerating_with_the_default_seed_gives_the_shipped_texts(
        make_sample: ModuleType, generate_with_seed: dict[int, Path]) -> None:
    # given the folder regenerated with the default seed
    out = generate_with_seed[make_sample.DEFAULT_SEED]

    # when each text is compared with the shipped one / then they are byte for byte equal
    assert _names(out / "texts", ".txt") == _names(DATA_DIR / "texts", ".txt")
    for shipped in (DATA_DIR / "texts").glob("*.txt"):
        assert (out / "texts" / shipped.name).read_bytes() == shipped.read_bytes()


def test_regenerating_with_the_default_seed_gives_images_close_to_the_shipped_ones(
        make_sample: ModuleType, generate_with_seed: dict[int, Path]) -> None:
    out = generate_with_seed[make_sample.DEFAULT_SEED]

    for shipped in sorted((DATA_DIR / "images").glob("*.jpg")):
        regenerated = out / "images" / shipped.name
        assert _read_image(regenerated).shape == _read_image(shipped).shape, shipped.name
        assert _mean_abs_diff(regenerated, shipped) <= SAME_PHOTO_MAX_MEAN_DIFF, shipped.name


def test_another_seed_gives_different_pixels_for_every_image(
        make_sample: ModuleType, generate_with_seed: dict[int, Path]) -> None:
    default = generate_with_seed[make_sample.DEFAULT_SEED]
    other = generate_with_seed[make_sample.DEFAULT_SEED + 1]
    assert _names(default / "images", ".jpg") == _names(other / "images", ".jpg")

    # a change of size is a difference too; same-sized images must differ in their pixels
    for first in sorted((default / "images").glob("*.jpg")):
        second = other / "images" / first.name
        if _read_image(first).shape == _read_image(second).shape:
            assert _mean_abs_diff(first, second) > SAME_PHOTO_MAX_MEAN_DIFF, first.name


def test_a_missing_font_is_an_error_naming_the_file_and_its_debian_package(
        make_sample: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # given a face whose file is not installed
    absent = make_sample.FontFace("Absent Serif", tmp_path / "AbsentSerif.ttf",
                                  "fonts-absent")
    monkeypatch.setattr(make_sample, "FONTS", (*make_sample.FONTS, absent))

    # when the dataset is generated / then nothing is written and the error says what to do
    with pytest.raises(DatasetError, match=r"AbsentSerif\.ttf.*apt-get install fonts-absent"):
        make_sample.generate(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_command_reports_a_missing_font_without_a_traceback(
        make_sample: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    absent = make_sample.FontFace("Absent Sans", tmp_path / "AbsentSans.ttf", "fonts-absent")
    monkeypatch.setattr(make_sample, "FONTS", (absent,))

    result = CliRunner().invoke(make_sample.main, ["--out", str(tmp_path)])

    assert result.exit_code == 1
    assert "apt-get install fonts-absent" in result.output
    assert "Traceback" not in result.output
