"""`make bench`: every benchmark, each printing a table and writing JSON under bench/results/."""

from bench import search

search.main()
