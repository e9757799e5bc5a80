"""S3-triggered batch prediction: input files streamed through a model in batches, or handed to a
SageMaker Batch Transform job when they are too large for one invocation."""
