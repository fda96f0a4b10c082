"""Optional LLM providers: one small interface and an OpenAI-compatible chat-completions client.

Nothing here is required: with no endpoint configured the product never builds a provider and never
opens a connection. See docs/llm.md.
"""

from coach.providers.base import ChatProvider, Completion, Message, ProviderLimits, UsageQuota
from coach.providers.openai_compat import OpenAICompatProvider, provider_from_settings

__all__ = [
    "ChatProvider",
    "Completion",
    "Message",
    "OpenAICompatProvider",
    "ProviderLimits",
    "UsageQuota",
    "provider_from_settings",
]
