--[[----------------------------------------------------------------------------
Info.lua -- the plug-in's manifest (Lightroom Classic SDK 6.0 or later).

Lightroom runs this file in a restricted environment (no import, no require),
so the menu titles repeat the LOC texts of Strings.lua under the same keys.
The SDK offers no right-click item: the command sits under both
Library > Plug-in Extras and File > Plug-in Extras (bind a keyboard shortcut to
its title, see docs/lightroom-plugin.md).
------------------------------------------------------------------------------]]

local applyTitle = LOC "$$$/Autoretouch/Menu/Apply=Auto-retouch (learned style)"
local sidecarsTitle = LOC "$$$/Autoretouch/Menu/Sidecars=Write XMP sidecars for selection"
local revertTitle = LOC "$$$/Autoretouch/Menu/Revert=Revert auto-retouch"
local trainTitle = LOC "$$$/Autoretouch/Menu/Train=Train style from selected photos..."

local function menuItems()
  return {
    { title = applyTitle, file = "AutoRetouchMenu.lua", enabledWhen = "photosSelected" },
    { title = revertTitle, file = "RevertMenu.lua", enabledWhen = "photosSelected" },
    { title = sidecarsTitle, file = "SidecarsMenu.lua", enabledWhen = "photosSelected" },
    { title = trainTitle, file = "TrainMenu.lua", enabledWhen = "photosSelected" },
  }
end

return {
  LrSdkVersion = 6.0,
  LrSdkMinimumVersion = 6.0, -- photo:applyDevelopSettings needs 6.0
  LrToolkitIdentifier = "io.github.autoretouch.lightroom",
  LrPluginName = LOC "$$$/Autoretouch/PluginName=autoretouch",
  LrPluginInfoProvider = "PluginInfo.lua",
  LrInitPlugin = "PluginInit.lua",
  LrShutdownPlugin = "PluginShutdown.lua",
  LrMetadataProvider = "Metadata.lua",
  LrLibraryMenuItems = menuItems(),
  LrExportMenuItems = menuItems(),
}
