"""opendrs: a self-hosted Data Replication Service compatible with the cloud DRS task APIs."""

__version__ = "0.1.0"
__all__ = ["__version__"]
