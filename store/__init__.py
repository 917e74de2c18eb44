"""The local store: portal preferences keyed by the adapter's patron key, and nothing else about a patron."""
