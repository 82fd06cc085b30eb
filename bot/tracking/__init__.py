"""Tracking (issue 6): status life-cycles, metric series, notes, history, follows. Nothing here imports Slack."""
