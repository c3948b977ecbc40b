"""Chat models from ``provider:model`` strings, and the preflight that fails fast on bad config."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from langchain_core.language_models import BaseChatModel

from benchgen.agents.settings import ROLES, AgentConfigError, AgentSettings, MissingApiKeyError

API_KEY_VARS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "openai": ("OPENAI_API_KEY",),
        "azure_openai": ("AZURE_OPENAI_API_KEY",),
        "anthropic": ("ANTHROPIC_API_KEY",),
        "google_genai": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
        "ollama": (),
        "groq": ("GROQ_API_KEY",),
        "mistralai": ("MISTRAL_API_KEY",),
        "deepseek": ("DEEPSEEK_API_KEY",),
        "xai": ("XAI_API_KEY",),
        "fireworks": ("FIREWORKS_API_KEY",),
        "together": ("TOGETHER_API_KEY",),
        "openrouter": ("OPENROUTER_API_KEY",),
        "cohere": ("COHERE_API_KEY",),
        "perplexity": ("PPLX_API_KEY",),
    }
)
"""Environment variables that hold each provider's key (any one suffices); () means none needed."""

DEFAULT_CONTEXT_TOKENS = 32_768
"""Context window assumed for a model without a LangChain profile (any model behind --base-url):
what vLLM, llama.cpp and LM Studio commonly serve; summarisation starts at 85% of it."""

BASE_URL_PROVIDERS: frozenset[str] = frozenset({"openai", "ollama"})
"""Providers that ``--base-url`` redirects; with a base URL they need no API key."""

_PACKAGES: Mapping[str, str] = MappingProxyType(
    {
        "openai": "langchain_openai",
        "azure_openai": "langchain_openai",
        "anthropic": "langchain_anthropic",
        "google_genai": "langchain_google_genai",
        "ollama": "langchain_ollama",
        "groq": "langchain_groq",
        "mistralai": "langchain_mistralai",
        "deepseek": "langchain_deepseek",
        "xai": "langchain_xai",
        "fireworks": "langchain_fireworks",
        "together": "langchain_together",
        "openrouter": "langchain_openrouter",
        "cohere": "langchain_cohere",
        "perplexity": "langchain_perplexity",
    }
)


class ModelSpec(NamedTuple):
    """A parsed ``provider:model`` string."""

    provider: str
    name: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.name}"


def parse_model(spec: str) -> ModelSpec:
    """Split ``provider:model`` at the first colon (Ollama tags like ``qwen3:32b`` keep theirs)."""
    provider, sep, name = spec.partition(":")
    if not sep or not provider or not name:
        raise AgentConfigError(
            f"model {spec!r} must be 'provider:model' (e.g. anthropic:claude-sonnet-4-5, openai:gpt-4.1)"
        )
    return ModelSpec(provider.strip().lower().replace("-", "_"), name.strip())


def _package_for(provider: str) -> str | None:
    if provider in _PACKAGES:
        return _PACKAGES[provider]
    try:  # LangChain's own registry knows every provider init_chat_model supports
        from langchain.chat_models.base import _BUILTIN_PROVIDERS

        entry = _BUILTIN_PROVIDERS.get(provider)
    except ImportError:
        entry = None
    return entry[0].split(".")[0] if entry else None


def preflight(settings: AgentSettings) -> None:
    """Check every role's model can be built before any work starts; raise a one-line error if not.

    Raises :class:`AgentConfigError` (unknown provider, missing integration package,
    malformed base URL) or :class:`MissingApiKeyError`. Makes no network request.
    """
    if settings.base_url is not None and not settings.base_url.startswith(("http://", "https://")):
        raise AgentConfigError(f"--base-url {settings.base_url!r} must start with http:// or https://")
    for spec_text in dict.fromkeys(settings.model_for(role) for role in ROLES):
        spec = parse_model(spec_text)
        package = _package_for(spec.provider)
        if package is None:
            raise AgentConfigError(f"model {spec_text!r}: unknown provider {spec.provider!r}")
        if importlib.util.find_spec(package) is None:
            raise AgentConfigError(
                f"model {spec_text!r}: the provider package is not installed (pip install {package.replace('_', '-')})"
            )
        _check_key(spec, settings.base_url)
    _check_vision(settings)


def _check_key(spec: ModelSpec, base_url: str | None) -> None:
    if spec.provider in BASE_URL_PROVIDERS and base_url:
        return
    names = API_KEY_VARS.get(spec.provider, ())
    if names and not any(os.environ.get(name) for name in names):
        hint = (
            f" (or pass --base-url for a local {spec.provider}-compatible server)"
            if spec.provider in BASE_URL_PROVIDERS
            else ""
        )
        raise MissingApiKeyError(f"model '{spec}': set {' or '.join(names)} in the environment{hint}")


def _check_vision(settings: AgentSettings) -> None:
    """The reviewer judges renders: refuse a model whose LangChain profile says it takes no images."""
    try:
        model = make_chat_model(settings.reviewer, settings)
    except Exception as exc:  # any construction error is a configuration error, reported on one line
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AgentConfigError(f"model {settings.reviewer!r}: {first_line}") from exc
    profile = getattr(model, "profile", None) or {}
    if profile.get("image_inputs") is False:
        raise AgentConfigError(
            f"reviewer model {settings.reviewer!r} does not accept images; pick a vision model"
        )


def make_chat_model(spec_text: str, settings: AgentSettings) -> BaseChatModel:
    """Build the LangChain chat model for a ``provider:model`` string (no network request)."""
    from langchain.chat_models import init_chat_model

    spec = parse_model(spec_text)
    kwargs: dict[str, Any] = {}
    if settings.temperature is not None:
        kwargs["temperature"] = settings.temperature
    if spec.provider in ("openai", "azure_openai", "anthropic", "google_genai"):
        kwargs["timeout"] = settings.request_timeout_s
        kwargs["max_retries"] = settings.max_retries
    if spec.provider == "openai":
        # Chat Completions is what every OpenAI-compatible server speaks (vLLM, llama.cpp, LM Studio).
        kwargs["use_responses_api"] = False
        kwargs["stream_usage"] = True
    if spec.provider == "ollama":
        # Ollama's native API silently truncates to its small default window unless told the size.
        kwargs["num_ctx"] = settings.context_tokens or DEFAULT_CONTEXT_TOKENS
    if spec.provider in BASE_URL_PROVIDERS and settings.base_url:
        kwargs["base_url"] = settings.base_url
        if spec.provider == "openai" and not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = "not-needed"  # local servers ignore it; the client insists on one
    model = init_chat_model(spec.name, model_provider=spec.provider, **kwargs)
    # The profile's max_input_tokens drives deepagents' summarisation and overflow trimming.
    profile = dict(model.profile or {})
    profile["max_input_tokens"] = context_tokens(model, settings)
    model.profile = profile
    return model


def context_tokens(model: BaseChatModel, settings: AgentSettings) -> int:
    """The context window to plan for: --context-tokens, else the model's profile, else the default."""
    if settings.context_tokens is not None:
        return settings.context_tokens
    known = (model.profile or {}).get("max_input_tokens")
    return known if isinstance(known, int) and known > 0 else DEFAULT_CONTEXT_TOKENS
