"""Provider adapters: pure Python, no models. One folder per provider type.

Types are switched on by the COMPTOIR_PROVIDERS setting; see `registry`.
"""
