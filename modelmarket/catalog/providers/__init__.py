"""Clients for the providers whose catalogs we mirror (Hugging Face Hub, Replicate).

Each client reads the provider's model list page by page and maps every item to a `ProviderListing` (or a
`SkippedItem` saying why it cannot be listed); `modelmarket.catalog.services.sync` writes them."""
