"""The tenancy layer: Host to store resolution, the current store, store-scoped queries."""
