"""The one training path: settings, the pipeline, results, the result cache."""
