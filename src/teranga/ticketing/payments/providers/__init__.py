"""Provider adapters: the built-in sandbox, Wave and Orange Money."""
