"""Which language a document is in (from the LSP languageId or the file name), and its comment syntax."""

from __future__ import annotations

from pathlib import PurePath

# tree-sitter-language-pack grammar name by file extension.
LANGUAGE_BY_EXTENSION = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascript", ".ts": "typescript", ".tsx": "tsx", ".lua": "lua", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".rs": "rust", ".go": "go", ".java": "java",
    ".rb": "ruby", ".sh": "bash", ".kt": "kotlin", ".swift": "swift", ".cs": "csharp", ".php": "php",
}
EXTENSION_BY_LANGUAGE = {
    "python": ".py", "javascript": ".js", "typescript": ".ts", "tsx": ".tsx", "lua": ".lua", "c": ".c",
    "cpp": ".cpp", "rust": ".rs", "go": ".go", "java": ".java", "ruby": ".rb", "bash": ".sh",
    "kotlin": ".kt", "swift": ".swift", "csharp": ".cs", "php": ".php",
}
# LSP languageIds that differ from the grammar name.
LANGUAGE_ID_ALIASES = {
    "javascriptreact": "javascript", "typescriptreact": "tsx", "shellscript": "bash", "sh": "bash",
    "c++": "cpp", "cs": "csharp", "py": "python", "js": "javascript", "ts": "typescript",
}
LINE_COMMENT = {
    "python": "#", "ruby": "#", "bash": "#", "lua": "--",
}


def detect_language(language_id: str | None = None, path: str | None = None) -> str | None:
    """Grammar name for a document, or None when neither its languageId nor its extension is known."""
    if language_id:
        lid = language_id.lower()
        lid = LANGUAGE_ID_ALIASES.get(lid, lid)
        if lid in EXTENSION_BY_LANGUAGE:
            return lid
    if path:
        return LANGUAGE_BY_EXTENSION.get(PurePath(path).suffix.lower())
    return None


def line_comment(language: str | None) -> str:
    """The line-comment marker ('//' for the C family and most others)."""
    return LINE_COMMENT.get(language or "", "//")
