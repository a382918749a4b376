"""Pillow, made quiet for decoding thousands of untrusted files (imported by core.data.images).

Pillow warns about what it meets in odd files (TIFF tags larger than the file, malformed MPO or
APNG, corrupt EXIF, images over its soft pixel limit) and the libtiff it bundles prints its own
warnings and errors straight to the process's stderr. A person classifying a folder can do
nothing about either: the file decodes, or it becomes a failed row whose reason says why.
So, once per process:

* warnings raised inside Pillow's own modules are ignored (a filter on ``module="PIL."``, which
  leaves Pillow's deprecation warnings about *our* calls alone: those point at our code), and
  ``DecompressionBombWarning`` too: core.data.images enforces its own pixel limit instead;
* libtiff's warning and error handlers are switched off where the loaded libtiff can be found
  (Linux and macOS wheels). Pillow still raises for a file libtiff cannot read.

A filter rather than ``warnings.catch_warnings()`` around each decode: decoding runs in several
threads at once, and ``catch_warnings`` swaps the process-wide filter list, which is not safe
across threads before Python 3.14.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import warnings
from pathlib import Path

from PIL import Image

log = logging.getLogger(__name__)

_done = False


def quiet_pillow() -> None:
    """Install the filters and silence libtiff (idempotent; core.data.images calls it on import)."""
    global _done
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    warnings.filterwarnings("ignore", module=r"PIL\.")
    if not _done:
        _done = True
        _silence_libtiff()


def _loaded_libtiff() -> list[Path]:
    """Paths of the libtiff this process has loaded (Linux: /proc/self/maps; importing
    PIL.Image loaded Pillow's C module and the libraries it links), or the copy Pillow's wheel
    bundles (macOS ``PIL/.dylibs``)."""
    found: list[Path] = []
    maps = Path("/proc/self/maps")
    if maps.exists():
        try:
            for line in maps.read_text().splitlines():
                path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
                name = Path(path).name
                if name.startswith("libtiff") and ".so" in name and Path(path) not in found:
                    found.append(Path(path))
        except OSError as e:
            log.debug("cannot read %s: %s", maps, e)
    elif sys.platform == "darwin":
        import PIL

        found += sorted((Path(PIL.__file__).parent / ".dylibs").glob("libtiff*.dylib"))
    return found


def _silence_libtiff() -> None:
    for path in _loaded_libtiff():
        try:
            lib = ctypes.CDLL(str(path))
            for name in ("TIFFSetWarningHandler", "TIFFSetErrorHandler"):
                setter = getattr(lib, name)
                setter.restype = ctypes.c_void_p
                setter.argtypes = [ctypes.c_void_p]
                setter(None)
        except (OSError, AttributeError) as e:  # not the library we expected: leave it be
            log.debug("could not silence libtiff at %s: %s", path, e)
        else:
            log.debug("libtiff warnings and errors silenced (%s)", path)
