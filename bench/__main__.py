"""`make bench`: every benchmark, each printing a table and writing JSON under bench/results/.
`python -m bench NAME` runs one: search, serve, slow, digest, mixed or socket_mode."""

import sys

from bench import digest, mixed, search, serve, slow, socket_mode

BENCHMARKS = {
    "search": search.main,
    "serve": serve.main,
    "slow": slow.main,
    "digest": digest.main,
    "mixed": mixed.main,
    "socket_mode": socket_mode.main,
}

for name in sys.argv[1:] or list(BENCHMARKS):
    BENCHMARKS[name]()
