"""The journal's rules, one module per capability; other domains import from here only."""

from mindspace.journal.events import EntryDeleted, EntryWritten
from mindspace.journal.schemas import EntryId
from mindspace.journal.service.analysis import (
    analyse_entry,
    analysis_allowed,
    entries_to_analyse,
    get_analysis,
    retract_analysis,
    sentiment_between,
)
from mindspace.journal.service.custom_prompts import (
    create_prompt,
    delete_prompt,
    get_daily_prompt,
    get_prompt,
    list_catalogue,
    list_prompts,
    local_day,
    update_prompt,
)
from mindspace.journal.service.entries import (
    EntryText,
    create_entry,
    delete_entry,
    get_entry,
    list_entries,
    read_entry_text,
    update_entry,
)
from mindspace.journal.service.export import export_journal, export_json, export_markdown

__all__ = [
    "EntryDeleted",
    "EntryId",
    "EntryText",
    "EntryWritten",
    "analyse_entry",
    "analysis_allowed",
    "create_entry",
    "create_prompt",
    "delete_entry",
    "delete_prompt",
    "entries_to_analyse",
    "export_journal",
    "export_json",
    "export_markdown",
    "get_analysis",
    "get_daily_prompt",
    "get_entry",
    "get_prompt",
    "list_catalogue",
    "list_entries",
    "list_prompts",
    "local_day",
    "read_entry_text",
    "retract_analysis",
    "sentiment_between",
    "update_entry",
    "update_prompt",
]
