"""What a run leaves behind, and the offline tools that read it: running a source with its outputs, the report, `score`, `explain`, the recipe's video check."""
