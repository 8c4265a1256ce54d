"""The autoretouch command line."""
