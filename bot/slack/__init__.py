"""The Slack edge: Bolt listeners that translate Slack's payloads into domain calls. Nothing else imports Bolt."""
