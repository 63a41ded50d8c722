from __future__ import annotations

from mindspace.platform.errors import InvalidInput, NotFound


class EntryNotFound(NotFound):
    type = "journal-entry-not-found"
    title = "Journal entry not found"


class PromptNotFound(NotFound):
    type = "journal-prompt-not-found"
    title = "Journal prompt not found"


class AnalysisNotFound(NotFound):
    type = "journal-analysis-not-found"
    title = "No analysis for this entry"


class UnknownPrompt(InvalidInput):
    type = "journal-unknown-prompt"
    title = "The prompt does not exist"


class WrittenInFuture(InvalidInput):
    type = "journal-written-in-future"
    title = "An entry cannot be dated in the future"


class EmptyEntry(InvalidInput):
    type = "journal-empty-entry"
    title = "An entry needs a title or a body"


class NothingToSearch(InvalidInput):
    type = "journal-nothing-to-search"
    title = "The search has no word to look for"
