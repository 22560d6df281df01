"""promptflow-netiso: a Kubernetes operator for Azure ML prompt flow network isolation."""

__version__ = "0.1.0"
