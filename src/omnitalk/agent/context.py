"""Fitting a conversation into the LLM's context window: the oldest exchanges go first.

The instructions and the user's new turn are always kept; history is kept newest first while it
fits. When even those two do not fit, the reply fails with a `PromptTooLong` that says which part
is too long and by how much, instead of the backend's own overflow error.
"""

from __future__ import annotations

from collections.abc import Callable

from omnitalk.engines.base import ChatMessage, EngineError

# Chat templates wrap each message in tokens of their own (ChatML: 5); counted generously.
TEMPLATE_TOKENS_PER_MESSAGE = 8


class PromptTooLong(EngineError):
    """The instructions and the user's turn alone exceed what the LLM allows a prompt."""


def fit_prompt(
    system: ChatMessage,
    history: list[ChatMessage],
    user: ChatMessage,
    count_tokens: Callable[[str], int],
    limit: int,
) -> list[ChatMessage]:
    """`[system, *recent history, user]` in at most `limit` tokens, template included."""

    def cost(message: ChatMessage) -> int:
        return count_tokens(message.content) + TEMPLATE_TOKENS_PER_MESSAGE

    # The reply's own opening (`<|im_start|>assistant`) is part of the prompt too.
    system_cost, user_cost = cost(system), cost(user)
    room = limit - TEMPLATE_TOKENS_PER_MESSAGE - system_cost - user_cost
    if room < 0:
        if system_cost + TEMPLATE_TOKENS_PER_MESSAGE > limit:
            raise PromptTooLong(
                f"the instructions alone take {system_cost} tokens, more than the {limit} the "
                "LLM allows a prompt (its context window less the room kept for the reply); "
                "shorten them or give the LLM a larger context_tokens"
            )
        raise PromptTooLong(
            f"the user's message takes {user_cost} tokens; with the instructions "
            f"({system_cost} tokens) that is more than the {limit} the LLM allows a prompt"
        )
    kept: list[ChatMessage] = []
    for message in reversed(history):
        room -= cost(message)
        if room < 0:
            break
        kept.append(message)
    kept.reverse()
    while kept and kept[0].role == "assistant":  # the kept history starts with the user
        kept.pop(0)
    return [system, *kept, user]
