"""Pure business concepts of the media service: standard library only."""
