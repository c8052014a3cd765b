
import sys

from retrostep.cli import main

sys.exit(main())
