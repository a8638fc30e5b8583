import sys

from nethical_runner.cli.main import main

sys.exit(main())
