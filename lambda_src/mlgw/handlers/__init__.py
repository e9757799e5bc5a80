"""Lambda entry points; each module's `lambda_handler` is one function's handler setting."""
