"""Answering questions about the report: the ten insights, figures, policy items, topics, search."""
