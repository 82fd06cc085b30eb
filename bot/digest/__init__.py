"""Channel subscriptions and scheduled digests (issue 5). Nothing here imports Slack."""
