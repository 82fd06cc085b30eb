# The same world as the digest tests: the miniature edition, a bot token and the Slack stand-in.
from tests.digest.conftest import fake_slack, services

__all__ = ["fake_slack", "services"]
