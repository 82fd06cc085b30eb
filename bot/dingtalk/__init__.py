"""The DingTalk edge: an internal app's robot over Stream mode (bot.dingtalk.stream), replies and digests posted
through DingTalk's own HTTP APIs (bot.dingtalk.api, bot.dingtalk.poster), Messages rendered as DingTalk markdown and
ActionCards (bot.dingtalk.cards). The features know nothing of DingTalk; only this package imports its SDK."""
