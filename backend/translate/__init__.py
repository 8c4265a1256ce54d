"""Host translators: recipes to Lightroom develop settings and darktable history."""
