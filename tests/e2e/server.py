"""The end-to-end tests start the server exactly as the load benchmark does."""

from evals.server_process import ROOT, Server

__all__ = ["ROOT", "Server"]
