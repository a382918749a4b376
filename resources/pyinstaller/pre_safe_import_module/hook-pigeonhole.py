"""Before PyInstaller analyses `pigeonhole`: in a source checkout its subpackages core/, gui/...
sit beside the pigeonhole/ folder (pigeonhole/__init__.py adds the checkout to its __path__ at
run time, which static analysis cannot see), so point the analysis there too."""

from pathlib import Path


def pre_safe_import_module(api):
    checkout = Path(__file__).resolve().parents[3]  # resources/pyinstaller/<this folder>/
    if (checkout / "core" / "__init__.py").is_file():
        api.append_package_path(str(checkout))
