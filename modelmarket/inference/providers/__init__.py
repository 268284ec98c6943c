"""The providers by name: `provider_for(target.provider)` gives the one instance of each (providers hold no per-call
state). Modules are imported on first use, so a provider whose module is missing fails alone, as ProviderUnknown."""

from __future__ import annotations

import functools
import importlib
import os

from modelmarket.inference.providers.base import Provider, ProviderUnknown

PROVIDER_CLASSES = {
    "local_onnx": "modelmarket.inference.providers.local_onnx.LocalOnnxProvider",
    "openai_compatible": "modelmarket.inference.providers.openai_compat.OpenAICompatibleProvider",
    "huggingface": "modelmarket.inference.providers.huggingface.HuggingFaceProvider",
    "replicate": "modelmarket.inference.providers.replicate.ReplicateProvider",
}


@functools.cache
def provider_for(name: str) -> Provider:
    """The provider instance for `name` (a listing version's `runtime["provider"]`); ProviderUnknown for a name we
    do not have or whose module is not installed."""
    path = PROVIDER_CLASSES.get(name)
    if path is None:
        raise ProviderUnknown(f"There is no provider named {name!r}.", details={"provider": name})
    module_name, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ProviderUnknown(f"The {name} provider is not installed.", details={"provider": name}) from exc
    provider: Provider = getattr(module, class_name)()
    return provider


# A forked worker must not reuse its parent's instances: their thread pools (local_onnx) and sessions do not survive
# the fork, and work handed to them would never run.
os.register_at_fork(after_in_child=provider_for.cache_clear)
