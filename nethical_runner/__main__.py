import sys

from nethical_runner.cli import main

sys.exit(main())
