"""The file side of ``quantflow import``: which files a PATH names, checksums, zips and row
counts (no database)."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest

from services.cli.import_ import ImportFailed, count_rows, find_files, open_text, verify_checksum
from tests.fakes.vision_archives import KLINE_HEADER, REAL_KLINES, write_checksum, write_csv

SPOT_ZIP = REAL_KLINES[0][0]


def test_a_directory_gives_its_archives_sorted_and_skips_a_csv_beside_its_zip(
    tmp_path: Path,
) -> None:
    (tmp_path / "spot").mkdir()
    shutil.copy(SPOT_ZIP, tmp_path / "spot")
    shutil.copy(REAL_KLINES[1][0], tmp_path / "spot")  # the zip's extracted CSV
    shutil.copy(REAL_KLINES[2][0], tmp_path)
    (tmp_path / "notes.txt").write_text("not data")
    assert find_files([tmp_path]) == [
        tmp_path / "BTCUSDT-1h-2022-09-07.csv",
        tmp_path / "spot" / "ETHUSDT-1m-2022-08-14.zip",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.zip", "no such file or directory"), ("notes.txt", "not a .zip or .csv file")],
)
def test_a_path_that_is_no_archive_is_refused_by_name(
    tmp_path: Path, name: str, message: str
) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ImportFailed, match=re.escape(f"{name}: {message}")):
        find_files([tmp_path / name])
    with pytest.raises(ImportFailed, match=r"no \.zip or \.csv files in it"):
        find_files([tmp_path])


def test_checksum_is_optional_checked_when_present_and_a_mismatch_names_the_file(
    tmp_path: Path,
) -> None:
    archive = Path(shutil.copy(SPOT_ZIP, tmp_path))
    assert verify_checksum(archive) is False
    write_checksum(archive)
    assert verify_checksum(archive) is True
    write_checksum(archive, "ab" * 32)
    with pytest.raises(ImportFailed, match=r"ETHUSDT-1m-2022-08-14\.zip: SHA-256 .* does not"):
        verify_checksum(archive)


def test_rows_are_counted_without_the_header_and_with_a_last_line_lacking_its_newline(
    tmp_path: Path,
) -> None:
    assert count_rows(SPOT_ZIP) == 1440
    lines = ["1", "2", "3"]
    assert count_rows(write_csv(tmp_path / "a.csv", lines, KLINE_HEADER)) == 3
    (tmp_path / "b.csv").write_text("1\n2\n3")
    assert count_rows(tmp_path / "b.csv") == 3
    (tmp_path / "c.csv").write_text("")
    assert count_rows(tmp_path / "c.csv") == 0


def test_a_zip_must_hold_exactly_one_csv(tmp_path: Path) -> None:
    two = tmp_path / "BTCUSDT-1m-2022-05-05.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "1\n")
        archive.writestr("b.csv", "2\n")
    with pytest.raises(ImportFailed, match=r"holds 2 \.csv files, expected one"), open_text(two):
        pass
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ImportFailed, match=r"broken\.zip: not a readable zip"), open_text(broken):
        pass
