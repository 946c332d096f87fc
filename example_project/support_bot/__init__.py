"""A small customer-support bot: classifies a question's intent and answers from a FAQ."""

from support_bot.bot import answer, classify

__all__ = ["answer", "classify"]
