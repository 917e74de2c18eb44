"""One blueprint per area. A view parses a form, checks it, calls the adapter, renders or redirects."""
