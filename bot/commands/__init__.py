"""The router at the top of the domain: the command registry built from the features' declarations, the parser,
and the one way a request is answered (caching, transactions and permissions follow from each declaration)."""
