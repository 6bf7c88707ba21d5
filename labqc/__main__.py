"""``python -m labqc`` is the ``labqc`` command."""
import sys

from labqc.cli import main

sys.exit(main())
