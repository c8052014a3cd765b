"""firmware/package.json (for `mpremote mip install`) lists exactly the firmware files."""

import json
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def test_mip_package_lists_every_firmware_file_relative_to_itself():
    pkg = json.loads((FIRMWARE / "package.json").read_text())
    listed = sorted(dest for dest, url in pkg["urls"])
    on_disk = sorted(["main.py", "boot.py"] + ["rstep/" + p.name
                                              for p in (FIRMWARE / "rstep").glob("*.py")])
    assert listed == on_disk
    for dest, url in pkg["urls"]:
        assert url == dest and (FIRMWARE / url).is_file()  # relative to package.json
