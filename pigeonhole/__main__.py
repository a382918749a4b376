"""`python -m pigeonhole` and the entry script of the frozen app (PyInstaller, see build.spec).

Absolute imports only: in the frozen app this file runs as ``__main__`` outside its package.
"""

import sys

from pigeonhole.cli import main

if __name__ == "__main__":
    sys.exit(main())
