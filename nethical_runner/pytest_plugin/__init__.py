"""The pytest front end: hooks, collectors and items, fixtures, the training session and
the run summary's hooks."""
