"""WeCom (企业微信) group robots: digests posted to a group through its robot's webhook URL.

A group robot can only send: it receives nothing (no commands, no buttons) and cannot message a person. So WeCom is
a digest destination alone, set up by the operator (`bot wecom add`, or WECOM_WEBHOOK_URL for one robot): each robot
is a workspace "wecom:<name>" with one channel "wecom-<name>", whose webhook URL is stored encrypted in
channels.address (bot.store.secrets). bot.wecom.webhook speaks to the webhook, bot.wecom.poster is the digest
runner's Poster, bot.wecom.robots holds what the operator's commands do."""
