"""Messages and card buttons from Feishu, over the long connection (start_long_connection) or HTTP callbacks
(bot.lark.http): the same handlers, registered on one lark-oapi EventDispatcherHandler.

* A message is a command in a one-to-one chat always, in a group only when it @-mentions the bot (its open_id in
  the mentions); the mention placeholders (@_user_1) are dropped and what is left is answered like Slack's
  `/insights TEXT`, with a card in reply to the message.
* A button (card.action.trigger): "more results" and an insight's button answer in place of the card, in the
  callback's own response when the answer is ready within INLINE_SECONDS (it nearly always is: answers take
  milliseconds), else by updating the card afterwards; a digest's "see more", "manage subscriptions" and
  "unsubscribe" answer with a new card under the digest.
* The SDK acknowledges an event when its handler returns, and Feishu wants that within 3 seconds: every handler hands
  its work to a small thread pool and returns at once, so every call to Feishu's API happens after the
  acknowledgement (the one wait is a button's in-place answer, which calls no API).
* Feishu delivers an event again when it saw no acknowledgement: each message (by message_id) and each click (by
  event_id) is acted on once, across processes (bot.store.once), and every reply carries a uuid derived from what it
  answers, so Feishu itself never shows a reply twice.
* One error policy: the exception logged with an id, the person told (templates/error.j2, or "the data is being
  updated" when a data load holds the database), never a traceback in the chat.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.commands.router import ask
from bot.core.caller import Caller
from bot.core.errors import DatabaseBusy
from bot.core.lang import detect_lang
from bot.core.message import AskAgain, ChannelCommand
from bot.core.platforms import workspace_key
from bot.core.poster import PostError
from bot.core.reply import Reply, notice
from bot.digest.runner import Runner
from bot.lark.api import (
    CARD_REFUSED,
    GONE,
    NOT_IN_CHAT,
    QUICK_TIMEOUT,
    Chat,
    LarkApi,
    LarkError,
    MsgType,
    api_for,
)
from bot.lark.cards import LarkCard, action_of, to_card
from bot.render.text import plain_text
from bot.services import Services
from bot.store.db import is_busy
from bot.store.once import first_time

log = logging.getLogger(__name__)

INLINE_SECONDS = 1.5  # a button's in-place answer waits this long for the callback's response (Feishu: 3 s)
WORKERS = 8
ADMIN_TTL = 60.0  # seconds an owner/manager check is remembered per chat and person
MENTION_KEY = re.compile(r"@_user_\d+|@_all")
COMMAND_PREFIX = re.compile(r"^/insights(?:\s+|$)", re.I)  # typed out of habit from Slack: same meaning


# ---- what the handlers read from the SDK's models ------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    key: str
    open_id: str
    mentioned_type: str = ""


@dataclass(frozen=True)
class Incoming:
    """An im.message.receive_v1 event."""

    event_id: str
    tenant_key: str
    message_id: str
    chat_id: str
    chat_type: str  # "p2p" or "group"
    message_type: str  # "text", "post", "image", ...
    content: str  # JSON, as Feishu sends it
    mentions: tuple[Mention, ...]
    sender_open_id: str
    sender_type: str  # "user" or "app"


@dataclass(frozen=True)
class Click:
    """A card.action.trigger callback: a button of one of our cards."""

    event_id: str
    tenant_key: str
    open_id: str
    chat_id: str
    message_id: str
    value: object


def _s(value: object) -> str:
    return "" if value is None else str(value)


def incoming_of(data: Any) -> Incoming:
    header, event = data.header, data.event
    message, sender = event.message, event.sender
    mentions = tuple(
        Mention(_s(m.key), _s(m.id.open_id if m.id else ""), _s(getattr(m, "mentioned_type", "")))
        for m in message.mentions or ()
    )
    return Incoming(
        event_id=_s(header.event_id),
        tenant_key=_s(header.tenant_key or (sender.tenant_key if sender else "")),
        message_id=_s(message.message_id),
        chat_id=_s(message.chat_id),
        chat_type=_s(message.chat_type),
        message_type=_s(message.message_type),
        content=_s(message.content),
        mentions=mentions,
        sender_open_id=_s(sender.sender_id.open_id if sender and sender.sender_id else ""),
        sender_type=_s(sender.sender_type if sender else ""),
    )


def click_of(data: Any) -> Click:
    header, event = data.header, data.event
    operator, context, action = event.operator, event.context, event.action
    return Click(
        event_id=_s(header.event_id),
        tenant_key=_s(header.tenant_key or (operator.tenant_key if operator else "")),
        open_id=_s(operator.open_id if operator else ""),
        chat_id=_s(context.open_chat_id if context else ""),
        message_id=_s(context.open_message_id if context else ""),
        value=action.value if action else None,
    )


def message_text(message_type: str, content: str) -> str | None:
    """The words of a text or rich-text (post) message; None for any other kind (an image, a file, a sticker)."""
    if message_type not in ("text", "post"):
        return None
    try:
        body = json.loads(content)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if message_type == "text":
        return _s(body.get("text"))
    lines = [_s(body.get("title"))] if body.get("title") else []
    for paragraph in body.get("content") or []:
        if isinstance(paragraph, list):
            words = (_s(e.get("text")) for e in paragraph if isinstance(e, dict) and e.get("tag") in ("text", "a"))
            lines.append("".join(words))
    return "\n".join(lines)


def command_of(text: str) -> str:
    """What to answer: the text without its mentions (and without a leading /insights)."""
    return COMMAND_PREFIX.sub("", MENTION_KEY.sub(" ", text).strip()).strip()


# ---- who asks --------------------------------------------------------------------------------------------------------


class AdminCache:
    """Owner/manager answers per chat and person, for a minute: a burst of commands asks Feishu once."""

    def __init__(self, ttl: float = ADMIN_TTL) -> None:
        self.ttl = ttl
        self._known: dict[tuple[str, str], tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], ask_feishu: Callable[[], bool | None]) -> bool | None:
        with self._lock:
            known = self._known.get(key)
        if known is not None and time.monotonic() - known[0] < self.ttl:
            return known[1]
        answer = ask_feishu()
        if answer is not None:  # "could not say" is not remembered
            with self._lock:
                self._known[key] = (time.monotonic(), answer)
        return answer


class ChatFacts:
    """One chat.get per command, asked only if the command needs it (restricted settings, subscribe)."""

    def __init__(self, api: LarkApi, chat_id: str) -> None:
        self.api, self.chat_id = api, chat_id
        self._found: Chat | LarkError | None = None

    def _chat(self) -> Chat | LarkError:
        if self._found is None:
            try:
                self._found = self.api.chat(self.chat_id)
            except LarkError as error:
                log.info("chat.get %s: %s", self.chat_id, error.error)
                self._found = error
        return self._found

    def is_admin(self, open_id: str) -> bool | None:
        """The chat's owner or one of its managers (Feishu's group roles); None when Feishu could not say."""
        chat = self._chat()
        return None if isinstance(chat, LarkError) else chat.is_admin(open_id)

    def can_post(self) -> bool | None:
        chat = self._chat()
        if isinstance(chat, LarkError):
            return False if chat.code in NOT_IN_CHAT else None
        return True


# ---- the handlers ----------------------------------------------------------------------------------------------------


class Pending:
    """An in-place answer handed from a worker to the callback waiting for it, or, when the callback has stopped
    waiting, left to the worker to deliver itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._card: LarkCard | None = None
        self._late = False

    def wait(self, seconds: float) -> LarkCard | None:
        self._done.wait(seconds)
        with self._lock:
            if not self._done.is_set():
                self._late = True
            return self._card

    def give(self, card: LarkCard | None) -> bool:
        """False when it came too late for the callback's response."""
        with self._lock:
            if self._late:
                return False
            self._card = card
            self._done.set()
            return True


class Edge:
    def __init__(
        self,
        services: Services,
        runner: Runner | None = None,
        *,
        api: LarkApi | None = None,
        quick: LarkApi | None = None,
        workers: int = WORKERS,
    ) -> None:
        self.services, self.runner = services, runner
        self.api = api or api_for(services.settings)
        self.quick = quick or api_for(services.settings, QUICK_TIMEOUT)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="lark")
        self.admins = AdminCache()

        def render(reply: Reply) -> LarkCard:  # one function per edge: it is part of the answer cache's key
            return to_card(services.renderer.message(reply))

        self.render = render

    def dispatcher(self, encrypt_key: str = "", verification_token: str = "") -> Any:
        """The SDK's dispatcher with these handlers (the key and token only matter for HTTP callbacks)."""
        import lark_oapi as lark  # type: ignore[import-untyped]

        return (
            lark.EventDispatcherHandler.builder(encrypt_key, verification_token)
            .register_p2_im_message_receive_v1(self.on_message)
            .register_p2_card_action_trigger(self.on_card_action)
            # Acknowledged and left alone if the app subscribes to them: nothing to do (a removed bot is noticed when
            # a digest cannot be posted, and its channel paused then).
            .register_p2_im_chat_member_bot_added_v1(_ignore)
            .register_p2_im_chat_member_bot_deleted_v1(_ignore)
            .build()
        )

    def close(self) -> None:
        self.pool.shutdown(wait=False)

    # ---- messages ----------------------------------------------------------------------------------------------

    def on_message(self, data: Any) -> None:
        self.submit(self.answer_message, incoming_of(data))

    def submit(self, work: Callable[..., None], *args: Any) -> None:
        self.pool.submit(self._logged, work, *args)

    @staticmethod
    def _logged(work: Callable[..., None], *args: Any) -> None:
        try:
            work(*args)
        except Exception:  # the handlers tell people about their own errors: this is a bug in the telling
            log.exception("unhandled error in a Feishu handler")

    def command_text(self, incoming: Incoming) -> str | None:
        """The command a message asks, or None when it is not addressed to the bot (or is not words)."""
        if incoming.sender_type not in ("user", ""):  # other bots, and our own messages
            return None
        text = message_text(incoming.message_type, incoming.content)
        if text is None:
            return None
        if incoming.chat_type != "p2p" and not self.mentions_bot(incoming.mentions):
            return None
        return command_of(text)

    def mentions_bot(self, mentions: tuple[Mention, ...]) -> bool:
        bot = self.api.bot_open_id()
        if bot is not None:
            return any(m.open_id == bot for m in mentions)
        # Feishu did not say who the bot is: trust the kind of mention when given, else any real mention (with the
        # default scope, a group message reaches the bot only when it is @-mentioned).
        return any(m.mentioned_type == "bot" or (not m.mentioned_type and m.open_id) for m in mentions)

    def answer_message(self, incoming: Incoming) -> None:
        text = self.command_text(incoming)
        if text is None:
            return
        try:
            if not self.first_time(f"lark:message:{incoming.message_id}"):
                return
            caller = self.caller(
                incoming.tenant_key, incoming.chat_id, incoming.sender_open_id, direct=incoming.chat_type == "p2p"
            )
            card = ask(self.services, text, self.render, caller=caller)
        except Exception as error:
            card = self.apology(error, text)
        self.deliver(card, chat_id=incoming.chat_id, reply_to=incoming.message_id, key=f"m{incoming.message_id}")

    # ---- buttons -----------------------------------------------------------------------------------------------

    def on_card_action(self, data: Any) -> Any:
        from lark_oapi.event.callback.model.p2_card_action_trigger import (  # type: ignore[import-untyped]
            P2CardActionTriggerResponse,
        )

        click = click_of(data)
        action = action_of(click.value)
        if action is None:
            return P2CardActionTriggerResponse(self.stale())
        if isinstance(action, AskAgain) and action.how in ("more", "open"):
            pending = Pending()
            self.submit(self.answer_in_place, click, action, pending)
            card = pending.wait(INLINE_SECONDS)
            return P2CardActionTriggerResponse({} if card is None else {"card": {"type": "raw", "data": card.card}})
        self.submit(self.answer_click, click, action)
        return P2CardActionTriggerResponse({})

    def answer_in_place(self, click: Click, again: AskAgain, pending: Pending) -> None:
        """'More results' and 'Insight N': the same question (or its next page) in place of the card."""
        try:
            if not self.first_time(f"lark:event:{click.event_id}"):
                pending.give(None)
                return
            card = ask(self.services, again.text, self.render, lang=again.lang, offset=again.offset)
        except Exception as error:
            pending.give(None)  # the card stays as it was; the apology comes under it
            self.deliver(self.apology(error, again.text), chat_id=click.chat_id, reply_to=click.message_id)
            return
        if not pending.give(card):  # the callback has answered already: change the card through the API
            try:
                self.api.update(click.message_id, card.content(), click.chat_id)
            except PostError as error:
                log.warning("could not update card %s: %s", click.message_id, error.error)

    def answer_click(self, click: Click, action: AskAgain | ChannelCommand) -> None:
        """A digest's buttons: the answer goes under the digest, which stays as it is."""
        text = action.text if isinstance(action, AskAgain) else ""
        try:
            if not self.first_time(f"lark:event:{click.event_id}"):
                return
            if isinstance(action, AskAgain):
                card = ask(self.services, action.text, self.render, lang=action.lang, offset=action.offset)
            else:
                text = "subscriptions" if action.name == "manage" else "unsubscribe all"
                caller = self.caller(click.tenant_key, click.chat_id, click.open_id, direct=False)
                card = ask(self.services, text, self.render, caller=caller)
        except Exception as error:
            card = self.apology(error, text)
        self.deliver(card, chat_id=click.chat_id, reply_to=click.message_id, key=f"c{click.event_id}")

    def stale(self) -> dict[str, Any]:
        """A toast for a button whose value is not one of ours (an old card, or a tampered one)."""
        words = {lang: plain_text(self.services.renderer.message(Reply("stale_button", lang))) for lang in ("zh", "en")}
        return {
            "toast": {"type": "warning", "content": words["en"], "i18n": {"zh_cn": words["zh"], "en_us": words["en"]}}
        }

    # ---- shared --------------------------------------------------------------------------------------------------

    def first_time(self, key: str) -> bool:
        with self.services.request_session_factory.begin() as session:
            return first_time(key, session=session)

    def caller(self, tenant_key: str, chat_id: str, open_id: str, *, direct: bool) -> Caller:
        """The person and chat of an event. Feishu's group roles (owner, managers) stand for Slack's workspace
        admins, asked only if a command needs them and briefly (QUICK_TIMEOUT); in a one-to-one chat Feishu has no
        one to ask (tenant admins are not visible to the bot), so there only BOT_ADMINS count as admins."""
        facts = ChatFacts(self.quick, chat_id)
        runner = self.runner

        def is_admin() -> bool | None:
            if direct:
                return None
            return self.admins.get((chat_id, open_id), lambda: facts.is_admin(open_id))

        return Caller(
            workspace_key("lark", tenant_key),
            chat_id,
            open_id,
            is_admin=is_admin,
            can_post=(lambda: None) if direct else facts.can_post,
            post_now=None if runner is None else partial(runner.deliver_now, chat_id),
            direct=direct,
        )

    def apology(self, error: Exception, text: str) -> LarkCard:
        lang = detect_lang(text)
        if isinstance(error, DatabaseBusy) or is_busy(error):
            log.warning("a Feishu request found the database busy, told to try again: %s", error)
            reply = notice(lang, "data_updating")
        else:
            error_id = uuid.uuid4().hex[:8]
            log.error("error %s while handling a Feishu event", error_id, exc_info=error)
            reply = Reply("error", lang, {"error_id": error_id})
        return to_card(self.services.renderer.message(reply))

    def deliver(self, card: LarkCard, *, chat_id: str, reply_to: str, key: str | None = None) -> None:
        """A card in reply to a message: in the chat instead when that message is gone, as text when Feishu refuses
        the card, once more after a short rate limit. `key` makes the uuid: the same answer is never shown twice."""
        content = card.content()
        msg_type: MsgType = "interactive"
        target: str | None = reply_to
        for _attempt in range(3):
            message_uuid = f"re-{key}"[:50] if key else None
            try:
                if target:
                    self.api.reply(target, content, msg_type, message_uuid, chat_id)
                else:
                    self.api.send("chat_id", chat_id, content, msg_type, message_uuid)
                return
            except LarkError as error:
                if error.code in GONE and target:
                    target = None
                elif error.code in CARD_REFUSED and msg_type == "interactive":
                    log.error("Feishu refused a card (%s); sending its text instead", error.error)
                    content, msg_type = json.dumps({"text": card.text}, ensure_ascii=False), "text"
                    key = f"t{key}" if key else None
                elif error.retry_after and error.retry_after <= 5:
                    time.sleep(error.retry_after)
                else:
                    log.warning("could not answer in chat %s: %s", chat_id, error.error)
                    return
        log.warning("could not answer in chat %s after 3 attempts", chat_id)


def _ignore(_data: Any) -> None:
    return None


# ---- the long connection ---------------------------------------------------------------------------------------------


def start_long_connection(services: Services, runner: Runner | None) -> Callable[[], None]:
    """Feishu's long connection (a WebSocket the app opens: no public URL) in a daemon thread; returns a function
    that stops it.

    lark-oapi's ws.Client runs on a module-global event loop (lark_oapi.ws.client.loop) and blocks in start()
    forever: it gets a loop of its own here, in its own thread, so one long connection runs per process. It
    reconnects by itself with the intervals Feishu's endpoint gives; wrong credentials stop it, logged."""
    import lark_oapi as lark
    import lark_oapi.ws.client as ws_client  # type: ignore[import-untyped]

    settings = services.settings
    edge = Edge(services, runner)
    secret = settings.feishu_app_secret.get_secret_value() if settings.feishu_app_secret else ""
    level = lark.LogLevel.DEBUG if settings.log_level.upper() == "DEBUG" else lark.LogLevel.WARNING
    client = ws_client.Client(
        settings.feishu_app_id or "",
        secret,
        log_level=level,
        event_handler=edge.dispatcher(),
        domain=settings.feishu_domain.rstrip("/"),
        auto_reconnect=True,
    )
    loop = asyncio.new_event_loop()
    stopping = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        ws_client.loop = loop  # start() looks the module's loop up when it runs
        try:
            client.start()
        except (RuntimeError, asyncio.CancelledError):  # how stop() ends it: its tasks cancelled, the loop stopped
            if not stopping.is_set():
                log.exception("Feishu's long connection stopped")
        except Exception as error:  # refused for good (wrong app id or secret): said once, plainly
            log.error("Feishu's long connection could not start: %s", error)

    thread = threading.Thread(target=run, name="lark-long-connection", daemon=True)
    thread.start()

    async def close() -> None:
        await client._disconnect()
        for task in asyncio.all_tasks():  # the SDK's ping and receive loops, and start()'s endless wait
            if task is not asyncio.current_task():
                task.cancel()

    def stop() -> None:
        stopping.set()
        client._auto_reconnect = False
        logging.getLogger("Lark").setLevel(logging.CRITICAL)  # the SDK logs its own socket's closing as an error
        if loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(close(), loop).result(2)
            except Exception:  # already closed, or the loop is busy: stopping it is enough
                log.debug("closing the long connection", exc_info=True)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        edge.close()

    return stop
