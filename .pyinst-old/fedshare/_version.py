"""Version of the installed fedshare package (written by the build)."""
__version__ = "0.1.0"
