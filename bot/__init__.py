"""Insights bot: CCID's ten insights on China's digital economy, answered in Slack and in a terminal."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
