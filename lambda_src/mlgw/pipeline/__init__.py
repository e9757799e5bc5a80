"""The S3-pipeline core that batch prediction and actuals reporting share: event intake, refusal
of foreign objects, HEAD, the invocation's deadline and lease, reports and moves, text decoding,
sibling prefixes and the handler skeleton. Neither pipeline imports the other."""
