"""Pigeonhole, the entry layer: the command line (``cli`` and ``commands``), the self-test and
``python -m pigeonhole``. It is the only package that knows both ``pigeonhole.core`` and
``pigeonhole.gui``; nothing imports it but entry points.

Installed, ``core/``, ``gui/``, ``resources/`` and ``weights/`` of the repository become
``pigeonhole.core``, ``pigeonhole.gui``... (setuptools' package-dir mapping, see pyproject.toml),
so the product claims one name in site-packages. In a source checkout they sit beside this
folder; adding the checkout to this package's path makes the same imports work there.
"""

from pathlib import Path as _Path

_CHECKOUT = _Path(__file__).resolve().parent.parent
if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "core" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))  # noqa: F821 (a package's own __path__)
