"""The bottom of the package graph: types every layer shares (language, item kind, caller, reply, message document,
poster protocol, errors). Imports nothing from the rest of the bot."""
