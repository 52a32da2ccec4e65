"""The demo ``.story`` file "The Cartographer" (:func:`demo_story_file`): a story whose lorebook exercises the
context rules. It is not part of the demo account; notebooks import it to show how context is built."""

from __future__ import annotations

from .demo_builders import _blocks, _cfg, _entry, _id, _meta, _ms, _settings

__all__ = ["demo_story_file"]


_CARTOGRAPHER = (
    "The old maps of Vell were drawn on goatskin, and Mira kept them rolled in oilcloth under her bed.\n"
    "Her brother laughed at them. The coast has moved, he said, the rivers too.\n"
    "But the maps were not of the coast. They were of the places under it, where the tide went when it "
    "left.\n"
    "At dusk she took the smallest one down to the harbour and unrolled it on the wet stones.\n"
    "The ink began to move."
)


def demo_story_file() -> dict:
    """Return "The Cartographer", a ``.story`` file (the site's story container) whose lorebook exercises
    the context rules: a plain key, a regex key, an entry only another entry's text activates
    (cascading), a disabled entry, an entry in a disabled category, an always-on entry, a key outside
    its search range, an ephemeral entry and a budget-limited memory. Not part of the demo account."""
    people = {"name": "People", "id": _meta("cartographer:cat:people"), "enabled": True,
              "createSubcontext": False, "subcontextSettings": {}, "useCategoryDefaults": False,
              "categoryDefaults": {}, "categoryBiasGroups": [], "open": True}  # fmt: skip
    hidden = dict(people, name="Drafts", id=_meta("cartographer:cat:drafts"), enabled=False)
    entries = [
        _entry(
            "Mira",
            ["mira"],
            "Mira: a mapmaker's daughter, 19, stubborn; she owns a brass compass.",
            1,
            category=people["id"],
        ),  # fmt: skip
        _entry(
            "Goatskin maps",
            ["/\\bmaps?\\b/i"],
            "The goatskin maps show the drowned country under the tide.",
            2,
        ),
        _entry(
            "Compass",
            ["compass"],
            "The brass compass points to whatever its holder has lost.",
            3,
            nonStoryActivatable=True,
        ),  # fmt: skip
        _entry("Vell", ["vell"], "Vell: a fishing town on a coast that moves.", 4),
        _entry("The lighthouse", ["lighthouse"], "The lighthouse of Vell has been dark for ten years.", 5),
        _entry("Old draft", ["mira"], "Mira was once called Mirren.", 6, category=hidden["id"]),
        _entry("Unused", ["tide"], "(unused note)", 7, enabled=False),
        _entry(
            "World",
            [],
            "The world: a low coast of salt marsh and shifting sandbars.",
            8,
            forceActivation=True,
            contextConfig=_cfg(priority=600, position=0),
        ),  # fmt: skip
        _entry("Oilcloth", ["oilcloth"], "Oilcloth keeps the damp out.", 9, searchRange=100),
    ]
    lorebook = {
        "lorebookVersion": 6,
        "entries": entries,
        "settings": {"orderByKeyLocations": False},
        "categories": [people, hidden],
        "order": [],
    }
    story_cfg = _cfg("", "", 0, -1, reservedTokens=512, trimDirection="trimTop", allowInsertionInside=True)
    content = {
        "storyContentVersion": 6,
        "settings": _settings("llama-3-erato-v1", "default-erato"),
        "story": _blocks([("prompt", _CARTOGRAPHER, 0, None)]),
        "context": [
            {
                "text": "Title: The Cartographer\nTags: fantasy, sea\nMira lives with her brother in Vell.",
                "contextConfig": _cfg("", "\n", 800, 0, tokenBudget=40),
            },  # fmt: skip
            {
                "text": "[ Style: quiet, uncanny ]",
                "contextConfig": _cfg("", "\n", -400, -4, reservedTokens=1),
            },
        ],
        "lorebook": lorebook,
        "storyContextConfig": story_cfg,
        "ephemeralContext": [
            {
                "text": "It is raining.",
                "contextConfig": _cfg(
                    "",
                    "\n",
                    -10000,
                    -2,
                    reservedTokens=1,
                    trimDirection="doNotTrim",
                    maximumTrimType="newline",
                ),  # fmt: skip
                "startingStep": 1,
                "delay": 0,
                "duration": 3,
                "repeat": False,
                "reverse": False,
            },  # fmt: skip
        ],
        "contextDefaults": {},
        "phraseBiasGroups": [],
        "bannedSequenceGroups": [],
    }
    meta = {"storyMetadataVersion": 1, "id": _id("cartographer"), "remoteId": "", "remoteStoryId": "",
            "title": "The Cartographer", "description": "A demo story for the context rules.",
            "textPreview": _CARTOGRAPHER[:100], "isTA": False, "favorite": False, "tags": ["demo"],
            "createdAt": _ms(0), "lastUpdatedAt": _ms(10), "isModified": False,
            "hasDocument": False}  # fmt: skip
    return {"storyContainerVersion": 1, "metadata": meta, "content": content}
