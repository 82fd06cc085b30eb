"""The Feishu / Lark edge: the same bot in Feishu chats, through Lark's official SDK (lark-oapi).

cards (the message document as interactive cards), api (the open API: sending, replying, chat facts, Feishu's error
codes and limits), poster (digests and direct messages for the runner), events (messages and card buttons, over the
long connection or HTTP callbacks), http (the callback endpoint `bot serve` mounts at /lark/events).

Importing lark_oapi takes seconds and sets an event loop on the importing thread, so only the modules that talk to
Feishu import it, and only processes with Feishu credentials import them (bot.platforms)."""
