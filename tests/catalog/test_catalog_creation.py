"""Opening a catalog that another process is creating at that moment: the file exists a
few ms (longer on a busy machine) before its table does. A reader waits for the table
instead of calling the catalog unusable; a file without one that is not new is refused."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labqc.catalog import Catalog, CatalogError

ROOT = Path(__file__).resolve().parents[2]


def test_a_reader_waits_for_the_table_of_a_catalog_being_created(tmp_path):
    path = tmp_path / "catalog.sqlite"
    path.touch()  # as the creating process's connect leaves it, before its first write
    creator = subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(0.5); "
                                "from labqc.catalog import Catalog; Catalog(sys.argv[1]).close()", str(path)],
                               cwd=ROOT)
    try:
        with Catalog(path, create=False) as cat:
            assert cat.count() == 0 and cat.runs() == []
    finally:
        creator.wait(timeout=60)
    assert creator.returncode == 0


def test_an_old_file_without_the_table_is_refused(tmp_path):
    path = tmp_path / "catalog.sqlite"
    path.touch()
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    with pytest.raises(CatalogError, match="holds no runs table"):
        Catalog(path, create=False)
