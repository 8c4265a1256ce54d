"""The slider catalog."""
