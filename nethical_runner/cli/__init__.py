"""The ``nethical-runner`` command line: a thin front end over the run, the checks and the
reports."""
