"""Which chat platform a workspace is on, from its key alone.

A Slack workspace keeps the key Slack gives it ("T123", or "E1/T123" in an Enterprise Grid org); a workspace on
another platform is named "<platform>:<its id there>": a Feishu/Lark tenant "lark:<tenant_key>", a DingTalk
organisation "dingtalk:<corpId>", the operator's WeCom robots "wecom:<name>". Keys never collide across platforms,
so tenancy, pacing and claims need no platform column, and one clock can serve every platform in one tick."""

from __future__ import annotations

from typing import Literal

Platform = Literal["slack", "lark", "dingtalk", "wecom"]
PLATFORMS: tuple[Platform, ...] = ("slack", "lark", "dingtalk", "wecom")


def platform_of(team_id: str) -> Platform:
    prefix, colon, _ = team_id.partition(":")
    if colon:
        for platform in PLATFORMS:
            if platform == prefix:
                return platform
    return "slack"


def workspace_key(platform: Platform, tenant: str) -> str:
    """The key of a workspace on `platform` (Slack keys are Slack's own: bot.slack.client.workspace_key)."""
    return tenant if platform == "slack" else f"{platform}:{tenant}"
