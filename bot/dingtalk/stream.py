"""DingTalk's Stream mode: the robot's messages arrive over a WebSocket that the app opens (no public URL), through
DingTalk's official SDK (dingtalk-stream); each is answered with the same commands as everywhere else.

* A message is acknowledged at once and worked on in a thread pool, off the SDK's event loop (the router and the
  database are synchronous): one conversation's messages in the order they came, and each acted on once (its msgId
  is recorded: bot.store.once).
* In a group DingTalk delivers only the messages that @-mention the robot (without the mention); in a one-to-one
  chat, every message. The text, less any leading @mention, is the command, as after /insights in Slack.
* The reply goes through the message's sessionWebhook with our own HTTP code, which checks DingTalk's answer (the
  SDK's reply_markdown drops failures); a webhook that refuses or has expired is replaced by the robot API.
* One error policy: an unexpected error is logged with an id and the person told that id; a database busy with a
  data load is a "try again in a minute". Never a traceback in chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import dingtalk_stream  # type: ignore[import-untyped]
from dingtalk_stream import card_replier as sdk_card_replier
from dingtalk_stream import chatbot as sdk_chatbot
from dingtalk_stream import stream as sdk_stream

from bot.commands.router import ask, parse
from bot.core.caller import Caller
from bot.core.commands import Command
from bot.core.errors import ConfigurationError, DatabaseBusy
from bot.core.lang import Lang, detect_lang
from bot.core.platforms import workspace_key
from bot.core.poster import PostError
from bot.core.reply import Reply, notice
from bot.digest.runner import Runner
from bot.dingtalk.api import send_webhook
from bot.dingtalk.cards import DingTalkMessage, read_options, to_dingtalk
from bot.dingtalk.poster import DingTalkPoster, dingtalk_poster
from bot.services import Services
from bot.store.db import is_busy
from bot.store.once import first_time

log = logging.getLogger(__name__)
SDK_LOG = logging.getLogger("bot.dingtalk.sdk")

TOPIC = "/v1.0/im/bot/messages/get"  # dingtalk_stream.ChatbotMessage.TOPIC
WORKERS = 8
STOP_TIMEOUT = 10.0
WEBHOOK_MARGIN = 10.0  # seconds: a sessionWebhook about to expire is not used
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\S+)+\s*")


def configure_sdk(base_url: str) -> None:
    """The one place the SDK learns DingTalk's address (DINGTALK_API_URL; tests point it at a stand-in).

    dingtalk_stream reads DINGTALK_OPENAPI_ENDPOINT from the environment once, at import, into a copy in each module
    that uses it and into a class attribute of the client; every copy is set here, so the process's setting wins
    whatever the environment said when the SDK was imported."""
    base = base_url.rstrip("/")
    sdk_stream.DingTalkStreamClient.OPEN_CONNECTION_API = base + "/v1.0/gateway/connections/open"
    for module in (sdk_stream, sdk_chatbot, sdk_card_replier):
        module.DINGTALK_OPENAPI_ENDPOINT = base


@dataclass(frozen=True)
class Incoming:
    """A robot message, as DingTalk's callback describes it (the fields the edge uses)."""

    message_id: str
    conversation_id: str
    direct: bool  # conversationType "1": a one-to-one chat with the robot; "2": a group
    corp_id: str
    user_id: str  # senderStaffId; senderId (DingTalk's opaque id) for someone outside the organisation
    is_admin: bool | None
    text: str | None
    session_webhook: str | None
    webhook_expires: float | None  # epoch seconds

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Incoming:
        expires = data.get("sessionWebhookExpiredTime")
        admin = data.get("isAdmin")
        return cls(
            message_id=str(data.get("msgId") or ""),
            conversation_id=str(data.get("conversationId") or ""),
            direct=str(data.get("conversationType") or "") == "1",
            corp_id=str(data.get("chatbotCorpId") or data.get("senderCorpId") or ""),
            user_id=str(data.get("senderStaffId") or data.get("senderId") or ""),
            is_admin=admin if isinstance(admin, bool) else None,
            text=text_of(data),
            session_webhook=str(data["sessionWebhook"]) if data.get("sessionWebhook") else None,
            webhook_expires=float(expires) / 1000 if isinstance(expires, int | float | str) and str(expires) else None,
        )

    @property
    def team_id(self) -> str:
        return workspace_key("dingtalk", self.corp_id)


def text_of(data: dict[str, Any]) -> str | None:
    """The words of a message: text, the text of rich text, speech recognised in a voice message; None for a
    picture, a file and the like."""
    kind = data.get("msgtype")
    text, content = data.get("text"), data.get("content")
    content = content if isinstance(content, dict) else {}
    if kind == "text" and isinstance(text, dict):
        return str(text.get("content") or "")
    if kind == "richText":
        parts = content.get("richText")
        parts = parts if isinstance(parts, list) else []
        return " ".join(str(part["text"]) for part in parts if isinstance(part, dict) and part.get("text"))
    if kind == "audio" and content.get("recognition"):
        return str(content["recognition"])
    return None


def command_text(text: str) -> str:
    """The command in a message: without the @mentions it starts with (DingTalk strips the robot's own, not always
    the others)."""
    return _LEADING_MENTIONS.sub("", text).strip()


class Conversations:
    """Answers robot messages: the work done in the pool for each message the Stream delivers."""

    def __init__(self, services: Services, runner: Runner | None, poster: DingTalkPoster) -> None:
        self.services, self.runner, self.poster = services, runner, poster
        # One function for the process: it is part of the answer cache's key.
        self.render: Callable[[Reply], DingTalkMessage] = lambda reply: to_dingtalk(services.renderer.message(reply))

    def caller_of(self, incoming: Incoming) -> Caller:
        admin = incoming.is_admin
        return Caller(
            incoming.team_id,
            incoming.conversation_id,
            incoming.user_id,
            # DingTalk's isAdmin: the sender is an administrator of the organisation (not the group's owner).
            is_admin=lambda: admin,
            # The message came from this chat, so the robot is in it and may post there.
            can_post=lambda: True,
            post_now=None if self.runner is None else partial(self.runner.deliver_now, incoming.conversation_id),
            direct=incoming.direct,
        )

    def handle(self, data: dict[str, Any]) -> None:
        """One message, end to end; never raises (the pool would keep the error to itself)."""
        try:
            incoming = Incoming.from_data(data)
        except Exception:
            log.exception("a DingTalk robot message that cannot be read: ignored")
            return
        lang: Lang = detect_lang(incoming.text or "")
        try:
            if incoming.message_id and not self._first_time(incoming.message_id):
                log.info("DingTalk message %s delivered again: already acted on", incoming.message_id)
                return
            text, forced, offset = read_options(command_text(incoming.text or ""))
            command = parse(text, forced)
            lang = command.lang
            if isinstance(command, Command) and command.acknowledgement is not None:
                # Work that may take a while (`digest now`): say so first, as Slack's acknowledgement does.
                self._reply(incoming, self.render(notice(command.lang, command.acknowledgement)))
            payload = ask(
                self.services, command, self.render, caller=self.caller_of(incoming), lang=forced, offset=offset
            )
        except Exception as error:
            payload = self._apology(error, lang)
        self._reply(incoming, payload)

    def _first_time(self, message_id: str) -> bool:
        with self.services.request_session_factory.begin() as session:
            return first_time(f"dingtalk:{message_id}", session=session)

    def _apology(self, error: Exception, lang: Lang) -> DingTalkMessage:
        if isinstance(error, DatabaseBusy) or is_busy(error):
            # Expected while data is loaded (the transaction was rolled back): no id to report, no traceback.
            log.warning("a DingTalk message found the database busy, told to try again: %s", error)
            return self.render(notice(lang, "data_updating"))
        error_id = uuid.uuid4().hex[:8]
        log.error("error %s while handling a DingTalk message", error_id, exc_info=error)
        return self.render(Reply("error", lang, {"error_id": error_id}))

    def _reply(self, incoming: Incoming, payload: DingTalkMessage) -> None:
        webhook = incoming.session_webhook
        expires = incoming.webhook_expires
        if webhook and (expires is None or expires - WEBHOOK_MARGIN > time.time()):
            try:
                for body in payload.webhook_bodies():
                    send_webhook(webhook, body)
                return
            except PostError as error:
                # Resent whole: a reply split in parts (over 18,000 bytes, which answers do not reach) could then
                # show its first parts twice, rather than lose the rest.
                log.warning("a sessionWebhook refused a reply (%s): sending it through the robot API", error.error)
        try:
            if incoming.direct:
                self.poster.send_direct(incoming.user_id, payload)
            else:
                self.poster.post(incoming.team_id, incoming.conversation_id, payload, {})
        except PostError as error:
            log.error(
                "could not reply to DingTalk message %s in %s: %s",
                incoming.message_id,
                incoming.conversation_id,
                error.error,
            )


class InOrder:
    """Work for each conversation in the order it arrived, conversations side by side, on a thread pool: "subscribe
    compute" then "lang both", typed in quick succession, are applied in that order."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool
        self._queues: dict[str, deque[Callable[[], None]]] = {}
        self._lock = threading.Lock()

    def submit(self, key: str, work: Callable[[], None]) -> None:
        with self._lock:
            waiting = self._queues.get(key)
            if waiting is not None:  # a thread is working through this conversation: it takes this too
                waiting.append(work)
                return
            self._queues[key] = deque([work])
        self.pool.submit(self._drain, key)

    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                waiting = self._queues[key]
                if not waiting:
                    del self._queues[key]
                    return
                work = waiting.popleft()
            try:
                work()
            except Exception:  # the work reports its own errors; this only keeps the queue going
                log.exception("DingTalk work for %s failed", key)


class BotMessages(dingtalk_stream.CallbackHandler):  # type: ignore[misc]
    """The SDK's handler for robot messages: queues each for the pool and acknowledges it at once."""

    def __init__(self, conversations: Conversations, work: InOrder) -> None:
        super().__init__()
        self.conversations, self.work = conversations, work

    async def process(self, callback: Any) -> tuple[int, str]:
        data = callback.data if isinstance(callback.data, dict) else {}
        key = str(data.get("conversationId") or "")
        self.work.submit(key, partial(self.conversations.handle, data))
        return dingtalk_stream.AckMessage.STATUS_OK, "OK"


class _SdkLogFilter(logging.Filter):
    """The SDK logs some errors with an argument its message has no placeholder for, which logging would report
    as a failure of its own; such a record gets its argument appended instead. It also warns of every ping as an
    "unknown message topic" (only `disconnect` is known to it): dropped. While the client is being stopped, the
    errors its cancellation makes it log are dropped too."""

    def __init__(self) -> None:
        super().__init__()
        self.stopping = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.stopping and record.levelno >= logging.ERROR:
            return False
        if str(record.msg).startswith("unknown message topic") and record.args and "ping" in record.args:
            return False
        if record.args and "%" not in str(record.msg):
            record.msg, record.args = f"{record.msg}: {record.args}", None
        return True


def start_stream(services: Services, runner: Runner | None) -> Callable[[], None]:
    """Connects to DingTalk's Stream in a background thread; returns the function that disconnects it."""
    settings = services.settings
    if not (settings.dingtalk_client_id and settings.dingtalk_client_secret):
        raise ConfigurationError("DingTalk needs DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET (README: DingTalk)")
    configure_sdk(settings.dingtalk_api_url)
    log_filter = _SdkLogFilter()
    SDK_LOG.addFilter(log_filter)
    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="dingtalk")
    conversations = Conversations(services, runner, dingtalk_poster(services))
    credential = dingtalk_stream.Credential(
        settings.dingtalk_client_id, settings.dingtalk_client_secret.get_secret_value()
    )
    client = dingtalk_stream.DingTalkStreamClient(credential, logger=SDK_LOG)
    client.register_callback_handler(TOPIC, BotMessages(conversations, InOrder(pool)))

    loop = asyncio.new_event_loop()
    task: asyncio.Task[None] | None = None
    ready = threading.Event()

    def run() -> None:
        nonlocal task
        asyncio.set_event_loop(loop)
        task = loop.create_task(client.start())
        ready.set()
        try:
            loop.run_until_complete(task)
        except BaseException:  # cancelled by stop(); anything else the SDK let escape has been logged by it
            log.debug("DingTalk Stream client ended", exc_info=True)
        finally:
            leftovers = asyncio.all_tasks(loop)  # the SDK's keepalive and message tasks
            for leftover in leftovers:
                leftover.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.close()

    thread = threading.Thread(target=run, name="dingtalk-stream", daemon=True)
    thread.start()
    ready.wait(STOP_TIMEOUT)

    async def cancel() -> None:
        # The SDK's loop catches CancelledError once (and sleeps 10 s before reconnecting): cancel until it ends.
        assert task is not None
        for _ in range(20):
            if task.done():
                return
            task.cancel()
            await asyncio.wait({task}, timeout=0.25)

    def stop() -> None:
        log_filter.stopping = True
        if task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the client has ended already
                asyncio.run_coroutine_threadsafe(cancel(), loop)
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():  # stuck in a blocking SDK call: the daemon thread goes with the process
            log.warning("the DingTalk Stream client did not stop within %ss", STOP_TIMEOUT)
        pool.shutdown(wait=False, cancel_futures=True)
        SDK_LOG.removeFilter(log_filter)

    return stop
