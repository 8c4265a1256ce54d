--[[----------------------------------------------------------------------------
Metadata.lua -- the plug-in's per-photo metadata (LrMetadataProvider).

relativeBase: JSON of the values the relative keys (Sharpness) had before the
photo's first auto-retouch, so that trying again at another strength adds to
the photo's own value, not to the previous run's (see Develop.lua). It has no
title, so Lightroom does not show it in the Metadata panel.
------------------------------------------------------------------------------]]

return {
  metadataFieldsForPhotos = {
    { id = "relativeBase", dataType = "string" },
  },
  schemaVersion = 1,
}
