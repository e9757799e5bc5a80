"""A small client for the prediction API, for people and for smoke tests.

It needs only an API URL and an API key: which model, endpoint or backend answers is the
gateway's business.
"""

from mlgw_client.api import PredictClient, PredictError, Prediction

__all__ = ["PredictClient", "PredictError", "Prediction"]
