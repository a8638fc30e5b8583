"""What a run shows people: records, results.json, summary.md, the terminal table,
reliability diagrams and GitHub annotations."""
