"""No token or secret reaches a log line, message or traceback (issue 12)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.logs import configure


@pytest.fixture
def root_logger_restored() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_tokens_and_secrets_are_taken_out_of_every_line(
    capsys: pytest.CaptureFixture[str], root_logger_restored: None
) -> None:
    configure("DEBUG", secrets=["the-signing-secret-42", None, "short"])
    log = logging.getLogger("bot.test")
    log.debug("oauth.v2.access body: {'access_token': 'xoxb-1234-5678-abcDEF', 'refresh': 'xoxe-1-AbC'}")
    log.info("app token xapp-1-A111-222-ccc and the-signing-secret-42 in a message")
    try:
        raise RuntimeError("INSERT INTO slack_bots ... parameters: ('xoxb-9999-8888-zzz',)")
    except RuntimeError:
        log.exception("a failed insert")
    err = capsys.readouterr().err
    assert "xoxb-[redacted]" in err and "xoxe-[redacted]" in err and "xapp-[redacted]" in err
    for secret in ("1234-5678", "AbC", "A111", "9999-8888", "the-signing-secret-42"):
        assert secret not in err, secret


def test_a_wecom_webhook_key_is_taken_out(capsys: pytest.CaptureFixture[str], root_logger_restored: None) -> None:
    configure("DEBUG")
    logging.getLogger("bot.test").warning(
        "POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa failed"
    )
    line = capsys.readouterr().err
    assert "693a91f6" not in line and "key=[redacted]" in line
