"""One module per DQDL rule family; ``compile`` holds the registry and the composites."""
