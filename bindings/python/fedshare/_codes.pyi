# Types of fedshare._codes, which the build generates from lib*/codes.tsv
# (tools/gen_codes.py, render_python); mypy reads this stub in a checkout.
from typing import Dict, NamedTuple, Tuple

class Code(NamedTuple):
    value: int
    name: str
    library: str
    kind: str
    message: str

CODES: Dict[int, Code]
ALIASES: Dict[str, str]
BY_NAME: Dict[str, Code]
RANGES: Dict[str, Tuple[int, int]]
