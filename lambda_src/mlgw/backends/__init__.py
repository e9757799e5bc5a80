"""Model backends behind one interface: a `Payload` (bytes + media type) in, a `ModelResponse`
out, typed `BackendError`s on failure. The real-time API and the S3 batch pipeline both call
models through this package, so a backend behaves the same whichever entry point drives it.
"""
