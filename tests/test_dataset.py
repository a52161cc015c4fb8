"""Loading a dataset folder: what it holds, its fingerprint, and every refusal."""

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import cv2
import numpy as np
import pytest

from shared.dataset import MIN_IMAGE_SIDE_PX, load_dataset
from shared.errors import DatasetError

MakeDataset = Callable[[Mapping[str, str]], Path]


def test_a_dataset_holds_each_image_in_gray_with_its_text(make_dataset: MakeDataset) -> None:
    # given a folder with two pairs
    folder = make_dataset({"b": "second line", "a": "first line"})

    # when it is loaded
    dataset = load_dataset(folder)

    # then the samples are sorted by name, gray uint8, read-only, with their texts
    assert dataset.names == ("a", "b")
    assert dataset.folder == folder.resolve()
    first = dataset.samples[0]
    assert first.text == "first line\n"
    assert first.image.ndim == 2
    assert first.image.dtype == np.uint8
    assert not first.image.flags.writeable


def test_a_colour_image_is_converted_to_gray(make_dataset: MakeDataset) -> None:
    # given a pair whose image is saved in colour
    folder = make_dataset({"a": "text"})
    colour = np.zeros((40, 60, 3), np.uint8)
    colour[:, :, 2] = 200  # pure red in OpenCV's BGR order
    cv2.imwrite(str(folder / "images" / "a.png"), colour)

    # when it is loaded / then it is one channel with red's luminance
    image = load_dataset(folder).samples[0].image
    assert image.shape == (40, 60)
    assert int(image[0, 0]) == round(0.299 * 200)


def test_loading_the_same_unchanged_folder_again_reuses_what_was_read(
        make_dataset: MakeDataset) -> None:
    folder = make_dataset({"a": "text"})

    assert load_dataset(folder) is load_dataset(folder)


def test_the_fingerprint_changes_when_one_byte_of_a_text_changes(
        make_dataset: MakeDataset) -> None:
    # given a loaded dataset
    folder = make_dataset({"a": "some text"})
    before = load_dataset(folder).fingerprint

    # when one character of the text changes, later (a rewrite within one tick of the file
    # system's coarse clock keeps its mtime, and the cache would not notice)
    text = folder / "texts" / "a.txt"
    mtime_ns = text.stat().st_mtime_ns
    text.write_text("some texT\n", encoding="utf-8")
    os.utime(text, ns=(mtime_ns + 10**9, mtime_ns + 10**9))

    # then the dataset is read again with another fingerprint
    after = load_dataset(folder)
    assert after.samples[0].text == "some texT\n"
    assert after.fingerprint != before


def test_the_fingerprint_is_the_same_for_the_same_bytes_in_another_folder(
        make_dataset: MakeDataset, tmp_path: Path) -> None:
    # given a dataset and a copy of it elsewhere
    folder = make_dataset({"a": "x y", "b": "z"})
    copy = tmp_path / "copy"
    for path in folder.rglob("*"):
        target = copy / path.relative_to(folder)
        if path.is_dir():
            target.mkdir(parents=True)
        else:
            target.write_bytes(path.read_bytes())

    # then both have the same fingerprint
    assert load_dataset(copy).fingerprint == load_dataset(folder).fingerprint


def test_hidden_files_are_ignored(make_dataset: MakeDataset) -> None:
    folder = make_dataset({"a": "text"})
    (folder / "images" / ".DS_Store").write_bytes(b"\0\1")

    assert load_dataset(folder).names == ("a",)


def _refusal(folder: Path) -> str:
    with pytest.raises(DatasetError) as caught:
        load_dataset(folder)
    return str(caught.value)


def test_a_missing_folder_is_refused_naming_it(tmp_path: Path) -> None:
    message = _refusal(tmp_path / "nowhere")

    assert str(tmp_path / "nowhere") in message
    assert "does not exist" in message


def test_a_file_given_as_the_folder_is_refused_saying_so(tmp_path: Path) -> None:
    text = tmp_path / "page.txt"
    text.write_text("Some words.", encoding="utf-8")

    message = _refusal(text)

    assert f"{text} is a file, not a folder" in message
    assert "pass the folder that holds images/ and texts/" in message


def test_a_folder_without_subfolders_is_refused_naming_both(tmp_path: Path) -> None:
    message = _refusal(tmp_path)

    assert "no images and no texts subfolder" in message


def test_an_empty_dataset_is_refused(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "texts").mkdir()

    assert "holds no images" in _refusal(tmp_path)


def test_an_image_without_text_and_a_text_without_image_are_both_reported(
        make_dataset: MakeDataset) -> None:
    # given one orphan image and one orphan text
    folder = make_dataset({"a": "text", "b": "text"})
    (folder / "texts" / "a.txt").unlink()
    (folder / "images" / "b.png").unlink()

    # when loaded / then both files are named, each with its fix
    message = _refusal(folder)
    assert f"{folder / 'images' / 'a.png'}: no true text" in message
    assert "texts/a.txt" in message
    assert f"{folder / 'texts' / 'b.txt'}: no image" in message
    assert "fix these 2 problems" in message


def test_a_corrupt_image_is_refused_naming_it(make_dataset: MakeDataset) -> None:
    # given an image file of random bytes
    folder = make_dataset({"a": "text"})
    bad = folder / "images" / "a.png"
    bad.write_bytes(np.random.default_rng(0).bytes(500))

    # then it is named as undecodable
    message = _refusal(folder)
    assert f"{bad}: OpenCV cannot decode it" in message


def test_an_empty_image_file_is_refused_naming_it(make_dataset: MakeDataset) -> None:
    folder = make_dataset({"a": "text"})
    (folder / "images" / "a.png").write_bytes(b"")

    assert f"{folder / 'images' / 'a.png'}: OpenCV cannot decode it" in _refusal(folder)


def test_an_empty_text_is_refused_naming_it(make_dataset: MakeDataset) -> None:
    folder = make_dataset({"a": "text"})
    (folder / "texts" / "a.txt").write_text(" \n\n", encoding="utf-8")

    assert f"{folder / 'texts' / 'a.txt'}: empty" in _refusal(folder)


def test_a_text_that_is_not_utf8_is_refused_naming_it(make_dataset: MakeDataset) -> None:
    # given a text saved as Latin-1
    folder = make_dataset({"a": "text"})
    (folder / "texts" / "a.txt").write_bytes("café".encode("latin-1"))

    # then the file, the offending byte and the fix are said
    message = _refusal(folder)
    assert f"{folder / 'texts' / 'a.txt'}: not UTF-8 (byte 3 is 0xe9)" in message
    assert "save it with UTF-8 encoding" in message


def test_an_image_too_small_to_read_is_refused_naming_it(make_dataset: MakeDataset) -> None:
    folder = make_dataset({"a": "text"})
    tiny = np.full((MIN_IMAGE_SIDE_PX - 1, 200), 255, np.uint8)
    cv2.imwrite(str(folder / "images" / "a.png"), tiny)

    message = _refusal(folder)
    assert f"{folder / 'images' / 'a.png'}: 200x{MIN_IMAGE_SIDE_PX - 1} px is too small" in message


def test_two_images_with_one_name_are_refused_naming_both(make_dataset: MakeDataset) -> None:
    # given a.png and a.JPG
    folder = make_dataset({"a": "text"})
    cv2.imwrite(str(folder / "images" / "a.JPG"), np.full((40, 40), 255, np.uint8))

    # then both are named
    message = _refusal(folder)
    assert str(folder / "images" / "a.JPG") in message
    assert str(folder / "images" / "a.png") in message
    assert "share the name 'a'" in message


def test_a_text_whose_name_several_images_share_is_not_also_called_an_orphan(
        make_dataset: MakeDataset) -> None:
    # given t.png and t.jpg with one text, t.txt
    folder = make_dataset({"t": "text"})
    cv2.imwrite(str(folder / "images" / "t.jpg"), np.full((40, 40), 255, np.uint8))

    # when it is loaded
    message = _refusal(folder)

    # then the shared name is the one problem reported
    assert "fix this problem" in message
    assert "share the name 't'" in message
    assert "no image for this text" not in message


def test_an_image_whose_name_several_texts_share_is_not_also_called_an_orphan(
        make_dataset: MakeDataset) -> None:
    # given t.png with two texts, t.txt and t.TXT
    folder = make_dataset({"t": "text"})
    (folder / "texts" / "t.TXT").write_text("text", encoding="utf-8")

    # when it is loaded
    message = _refusal(folder)

    # then the shared name is the one problem reported
    assert "fix this problem" in message
    assert "share the name 't'" in message
    assert "no true text for this image" not in message


def test_a_file_of_another_type_in_images_is_refused_naming_it(
        make_dataset: MakeDataset) -> None:
    folder = make_dataset({"a": "text"})
    (folder / "images" / "a.gif").write_bytes(b"GIF89a")

    assert f"{folder / 'images' / 'a.gif'}: not a .jpg" in _refusal(folder)


def test_all_problems_are_listed_at_once(make_dataset: MakeDataset) -> None:
    # given a corrupt image, an empty text and an orphan text
    folder = make_dataset({"a": "text", "b": "text"})
    (folder / "images" / "a.png").write_bytes(b"not an image")
    (folder / "texts" / "b.txt").write_text("", encoding="utf-8")
    (folder / "texts" / "c.txt").write_text("orphan", encoding="utf-8")

    # then one refusal names all three files
    message = _refusal(folder)
    assert "fix these 3 problems" in message
    for name in ("a.png", "b.txt", "c.txt"):
        assert name in message
