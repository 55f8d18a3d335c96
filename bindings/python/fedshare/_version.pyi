# Type of fedshare._version, which the build writes from _version.py.in.
__version__: str
