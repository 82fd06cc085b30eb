"""`make bench`: every benchmark, each printing a table and writing JSON under bench/results/.
`python -m bench search` or `python -m bench serve` runs one."""

import sys

from bench import digest, search, serve

BENCHMARKS = {"search": search.main, "serve": serve.main, "digest": digest.main}

for name in sys.argv[1:] or list(BENCHMARKS):
    BENCHMARKS[name]()
