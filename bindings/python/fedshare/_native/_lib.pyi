# Type of the CFFI extension module fedshare._native._lib that the build
# compiles: its ffi and lib objects are untyped.
from typing import Any

ffi: Any
lib: Any
