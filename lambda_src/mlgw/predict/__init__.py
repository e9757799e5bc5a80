"""The real-time prediction API: settings, request handling and error mapping."""
