"""The account's stories and tables: stories, story contents, presets, modules and shelves as DataFrames;
one story's text, its lorebook, and the story as a :class:`~naikit.novelai.story.Story` to edit and save.

``StoriesAPI`` is an area of :class:`naikit.novelai.async_client.AsyncNovelAI`, built on the content area
(:mod:`naikit.novelai.content_api`), whose guarded ``save_content`` every write goes through.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .._validate import check_bool, check_text
from ..errors import InputError, NotFound, UnsafeWrite
from .content_api import ContentAPI

# the content module loads with the first call that needs it, not with the client (import time): each
# method imports what it uses; annotations name them for type checkers only
if TYPE_CHECKING:
    import pandas as pd

    from .content import ContentList, ContentObject
    from .story import Story

__all__ = ["StoriesAPI"]


class StoriesAPI(ContentAPI):
    """Area: the account's tables (stories, story contents, presets, modules, shelves) and stories."""

    async def stories(self, *, tokens: bool = True) -> ContentList:
        """Return the stories with their content joined: title, dates, tags, preview, words, tokens
        (with the story's model, Kayra's tokenizer if none is set), lorebook entries, format and errors."""
        from .content import ContentList, _content_row, _preview, _ts_ms, story_text_of

        check_bool(tokens, "tokens")
        ks = await self.keystore()
        stories = await self.content("stories", keystore=ks)
        contents = await self.content("storycontent", keystore=ks)
        by_id = {c.id: c for c in contents}
        rows = []
        for s in stories:
            d = s.data if isinstance(s.data, dict) else {}
            rid = d.get("remoteStoryId")
            c = by_id.get(rid) if isinstance(rid, str) else None
            crow = _content_row(c, tokens) if c is not None else {}
            text = None
            if c is not None and c.ok and not crow.get("error"):
                text = story_text_of(c.data)
            error = str(s.error) if s.error else crow.get("error")
            if s.ok and c is None:
                error = f"its storycontent {d.get('remoteStoryId')!r} is missing"
            rows.append(
                {
                    "id": s.id,
                    "meta": s.meta,
                    "title": d.get("title"),
                    "description": d.get("description"),
                    "tags": list(d["tags"]) if isinstance(d.get("tags"), list) else [],
                    "favorite": d.get("favorite"),
                    "created_at": _ts_ms(d.get("createdAt")),
                    "last_updated_at": _ts_ms(d.get("lastUpdatedAt")),
                    "preview": _preview(text) if text is not None else d.get("textPreview"),
                    "content_id": d.get("remoteStoryId"),
                    "format": crow.get("format"),
                    "model": crow.get("model"),
                    "words": crow.get("words"),
                    "tokens": crow.get("tokens"),
                    "lorebook_entries": crow.get("lorebook_entries"),
                    "error": error,
                }
            )
        out = ContentList("stories", stories.items, rows)
        out.contents = contents
        return out

    async def story_contents(self, *, tokens: bool = False) -> ContentList:
        """Return the storycontent objects with format, model, characters, words, tokens, lorebook entries."""
        from .content import _content_row

        check_bool(tokens, "tokens")
        contents = await self.content("storycontent")
        contents.rows = [_content_row(c, tokens) for c in contents]
        return contents

    async def user_presets(self) -> ContentList:
        """Return the presets saved in the account (name, model, main parameters)."""
        from .content import _preset_row

        presets = await self.content("presets")
        presets.rows = [_preset_row(p) for p in presets]
        return presets

    async def aimodules(self) -> ContentList:
        """Return the account's custom AI modules (name, description, model)."""
        from .content import _module_row

        mods = await self.content("aimodules")
        mods.rows = [_module_row(m) for m in mods]
        return mods

    async def shelves(self) -> ContentList:
        """Return the account's shelves (title, description, number of children)."""
        from .content import _shelf_row

        shelves = await self.content("shelf")
        shelves.rows = [_shelf_row(s) for s in shelves]
        return shelves

    async def story_text(self, story: str | ContentObject) -> str:
        """Return the full text of a story, given its id, meta, title, or its story/storycontent object."""
        from .content import ContentObject, story_text_of

        _check_story(story)
        if isinstance(story, ContentObject) and story.type == "storycontent":
            return story_text_of(story.raise_for_error().data)
        ks = await self.keystore()
        contents = await self.content("storycontent", keystore=ks)
        if isinstance(story, ContentObject):
            target = story.raise_for_error().data.get("remoteStoryId")
        else:
            stories = await self.content("stories", keystore=ks)
            match = [s for s in stories if _is_story(story, s)]
            if not match:
                match_c = [c for c in contents if story in (c.id, c.meta)]
                if match_c:
                    return story_text_of(match_c[0].raise_for_error().data)
                raise _no_story(story)
            target = match[0].raise_for_error().data.get("remoteStoryId")
        for c in contents:
            if c.id == target:
                return story_text_of(c.raise_for_error().data)
        raise NotFound(404, f"story {story!r} has no storycontent {target!r}", hint="the story is incomplete")

    async def story(self, story: str | ContentObject) -> Story:
        """Return a story of the account (id, meta or title, or its story/storycontent object) as a
        :class:`~naikit.novelai.story.Story`: text, memory, author's note, lorebook and context settings.
        :meth:`save_story` writes it back."""
        from .content import ContentObject
        from .story import Story

        _check_story(story)
        ks = await self.keystore()
        contents = await self.content("storycontent", keystore=ks)
        title = ""
        target: Any = None
        if isinstance(story, ContentObject) and story.type == "storycontent":
            item = story.raise_for_error()
        else:
            stories = await self.content("stories", keystore=ks)
            for s in stories:
                if _is_story(story, s):
                    d = s.data if isinstance(s.data, dict) else {}
                    target, title = d.get("remoteStoryId"), str(d.get("title", ""))
                    break
            found = next(
                (
                    c
                    for c in contents
                    if c.id == target or (isinstance(story, str) and story in (c.id, c.meta))
                ),
                None,
            )
            if found is None:
                raise _no_story(story if isinstance(story, str) else story.id)
            item = found.raise_for_error()
        out = Story.from_content(item.data, title=title)
        out._item = item
        out._read_text = out.text
        return out

    async def save_story(self, story: Story, *, backup: bool = True, force: bool = False) -> Story:
        """Write an edited story back to the account through :meth:`save_content` (the server's version is
        backed up locally first, the upload is checked to decrypt back, and a story changed elsewhere
        since it was read is refused unless ``force``); return the story as now stored.

        Memory, author's note, lorebook and context settings are written as they are; the story text may
        only have grown at the end (what ``continue_story`` adds), anything else raises UnsafeWrite.
        """
        from ._story_text import append_story_text
        from .story import Story

        if not isinstance(story, Story) or story._item is None:
            raise InputError("story", story, "a Story read from the account with nai.story(...)")
        item = story._item
        before = story._read_text
        data = story.content_dict()
        if story.text != before:
            if not story.text.startswith(before):
                raise UnsafeWrite(
                    "story.text", story.text[:40], "the text read plus text added at its end",
                    "naikit writes story text back only by appending",
                )  # fmt: skip
            data = append_story_text(data, story.text[len(before) :])
        edited = copy.copy(item)
        edited.data = data
        stored = await self.save_content(edited, backup=backup, force=force)
        out = Story.from_content(stored.data, title=story.title)
        out._item = stored
        out._read_text = out.text
        return out

    async def lorebook(self, story: str | ContentObject) -> pd.DataFrame:
        """Return the lorebook entries of a story (id, meta or title) as a DataFrame."""
        import pandas as pd

        from .content import lorebook_rows

        _check_story(story)
        ks = await self.keystore()
        contents = await self.content("storycontent", keystore=ks)
        stories = await self.content("stories", keystore=ks)
        target = None
        for s in stories:  # the last one named wins
            if _is_story(story, s):
                target = s.data.get("remoteStoryId") if isinstance(s.data, dict) else None
        content = next(
            (c for c in contents if c.id == target or (isinstance(story, str) and story == c.id)), None
        )
        if content is None:
            raise _no_story(story)
        rows = lorebook_rows(content.raise_for_error().data)
        return pd.DataFrame(rows, columns=["name", "keys", "enabled", "category", "text"])


def _is_story(story: str | ContentObject, s: ContentObject) -> bool:
    """Return True when ``s`` (a ``stories`` object) is the story ``story`` names: that object, or its
    id, meta or title."""
    from .content import ContentObject

    d = s.data if isinstance(s.data, dict) else {}
    return (isinstance(story, ContentObject) and story.id == s.id) or story in (s.id, s.meta, d.get("title"))


def _check_story(story: Any) -> None:
    """Refuse, before any request, what cannot name a story (the lookup by id, meta or title needs a list)."""
    from .content import ContentObject

    if isinstance(story, ContentObject):
        if story.type not in ("stories", "storycontent"):
            raise InputError("story", story, "a story or storycontent object (or its id, meta or title)")
        return
    check_text(story, "story", allowed="the id, meta or title of a story", empty=False)


def _no_story(story: str | ContentObject) -> NotFound:
    """Return the error for a story name that matches nothing in the account (found after listing)."""
    return NotFound(
        404,
        f"no story with id, meta or title {story!r} in this account",
        hint="list them with stories()",
    )
