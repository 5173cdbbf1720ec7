"""``python -m simulator`` runs the startrail command line."""
import sys

from .cli import main

sys.exit(main())
