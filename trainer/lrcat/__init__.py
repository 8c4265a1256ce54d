"""Lightroom catalogs as a trainer data source: expert slider settings and histories -> recipes.

* :mod:`~trainer.lrcat.reader`: open a ``.lrcat`` read-only (Lightroom 3 and modern schemas) and read
  typed :class:`~trainer.lrcat.records.Photo` records (path, capture time, settings, history,
  collections, virtual-copy name).
* :mod:`~trainer.lrcat.luatext`: the settings text (Lua table source) parsed as data, never executed;
  :mod:`~trainer.lrcat.blob`: zlib-compressed text cells of newer catalogs.
* :mod:`~trainer.lrcat.experts`: FiveK's experts (collections ``Experts/A`` .. ``E`` of virtual copies)
  or experts kept as virtual copies: :func:`expert_settings`, :func:`expert_recipes`.
* :mod:`~trainer.lrcat.pv2003`: legacy PV2003/PV2010 and PV2012 settings -> slider values;
  :mod:`~trainer.lrcat.history`: recipes whose step order follows the develop history.

Example::

    from trainer.lrcat import expert_recipes

    for photo, mapped in expert_recipes("fivek.lrcat", "C", expected_count=5000):
        print(photo.base_name, mapped.recipe.to_json(indent=None), mapped.notes)
"""

from __future__ import annotations

from trainer.lrcat.blob import cell_text, compress_settings_text
from trainer.lrcat.errors import CatalogError, SettingsParseError
from trainer.lrcat.experts import (
    EXPERTS_SET,
    FIVEK_EXPERTS,
    FIVEK_PHOTOS,
    INPUT_AS_SHOT_ZEROED,
    expert_image_ids,
    expert_recipes,
    expert_settings,
)
from trainer.lrcat.history import MappedRecipe, photo_recipe, settings_to_recipe, slider_moves
from trainer.lrcat.luatext import Settings, parse_lua_table, parse_settings
from trainer.lrcat.pv2003 import (
    CANONICAL_ORDER,
    LIGHTROOM_DEFAULTS,
    ZEROED,
    LegacyBaseline,
    MappedSettings,
    map_settings,
    process_version,
)
from trainer.lrcat.reader import LightroomCatalog, open_catalog
from trainer.lrcat.records import AsShotWhiteBalance, Collection, HistoryStep, Photo

__all__ = [
    "CANONICAL_ORDER",
    "EXPERTS_SET",
    "FIVEK_EXPERTS",
    "FIVEK_PHOTOS",
    "INPUT_AS_SHOT_ZEROED",
    "LIGHTROOM_DEFAULTS",
    "ZEROED",
    "AsShotWhiteBalance",
    "CatalogError",
    "Collection",
    "HistoryStep",
    "LegacyBaseline",
    "LightroomCatalog",
    "MappedRecipe",
    "MappedSettings",
    "Photo",
    "Settings",
    "SettingsParseError",
    "cell_text",
    "compress_settings_text",
    "expert_image_ids",
    "expert_recipes",
    "expert_settings",
    "map_settings",
    "open_catalog",
    "parse_lua_table",
    "parse_settings",
    "photo_recipe",
    "process_version",
    "settings_to_recipe",
    "slider_moves",
]
